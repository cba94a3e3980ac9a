/** What a long-lived connection needs of its principal: what it signed in with, and until when that holds. */
export interface Credential {
  credential: string;
  expiresAt?: number;
}

export type EndReason = 'revoked' | 'expired';

interface Held {
  end: (reason: EndReason) => void;
  /** Fires at the expiry. */
  timer?: NodeJS.Timeout;
}

/** setTimeout's longest wait (about 24.8 days); a later expiry is waited for in steps. */
const LONGEST_TIMER_MS = 2 ** 31 - 1;

/**
 * Long-lived connections (WebSockets) by the credential that opened them. A request is checked when it arrives;
 * a connection lives on, so it is ended when its credential is revoked or expires.
 */
export class HeldConnections {
  private readonly byCredential = new Map<string, Set<Held>>();

  /** Holds a connection: `end` is called once, when its credential ends. Returns the release for a connection that closes first. */
  hold({ credential, expiresAt }: Credential, end: (reason: EndReason) => void): () => void {
    const held: Held = { end };
    const set = this.byCredential.get(credential) ?? new Set<Held>();
    this.byCredential.set(credential, set.add(held));
    const release = () => {
      clearTimeout(held.timer);
      set.delete(held);
      if (set.size === 0 && this.byCredential.get(credential) === set) this.byCredential.delete(credential);
    };
    if (expiresAt !== undefined) {
      const wait = () => {
        const left = expiresAt - Date.now();
        if (left > 0) return void (held.timer = setTimeout(wait, Math.min(left, LONGEST_TIMER_MS)).unref());
        release();
        end('expired');
      };
      wait();
    }
    return release;
  }

  /** The credential was revoked: every connection it opened ends. */
  revoke(credential: string): void {
    const held = this.byCredential.get(credential) ?? [];
    this.byCredential.delete(credential);
    for (const { end, timer } of held) {
      clearTimeout(timer);
      end('revoked');
    }
  }
}
