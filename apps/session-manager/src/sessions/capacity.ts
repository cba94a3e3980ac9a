/** Raised for a request that left the line before its turn (its session was stopped while waiting). */
export class LeftTheLineError extends Error {
  override readonly name = 'LeftTheLineError';
}

interface Waiter {
  sid: string;
  onPosition: (position: number) => void;
  admit: () => void;
  reject: (err: Error) => void;
}

/**
 * Global capacity: at most `capacity` sessions hold a slot (from start until stopped). Requests beyond it wait
 * in first-come order and hear their position (1 = next) whenever it changes, instead of getting a bare 429.
 */
export class CapacityGate {
  private readonly holders = new Set<string>();
  private readonly line: Waiter[] = [];

  constructor(private readonly capacity: number) {}

  /** Resolves when `sid` holds a slot; rejects with LeftTheLineError if `leave(sid)` is called first. */
  acquire(sid: string, onPosition: (position: number) => void = () => undefined): Promise<void> {
    if (this.holders.has(sid)) return Promise.resolve();
    if (this.holders.size < this.capacity && this.line.length === 0) {
      this.holders.add(sid);
      return Promise.resolve();
    }
    return new Promise<void>((admit, reject) => {
      this.line.push({ sid, onPosition, admit, reject });
      onPosition(this.line.length);
    });
  }

  /** Counts a session that already runs (found at start-up) against the capacity. */
  reserve(sid: string): void {
    this.holders.add(sid);
  }

  /** Frees the slot of `sid`, or takes it out of the line; either way the next in line may go. */
  release(sid: string): void {
    const at = this.line.findIndex((w) => w.sid === sid);
    if (at >= 0) {
      const [waiter] = this.line.splice(at, 1);
      waiter?.reject(new LeftTheLineError(`session ${sid} left the line`));
    }
    this.holders.delete(sid);
    this.admitWaiting(at >= 0 ? at : 0);
  }

  private admitWaiting(changedFrom: number): void {
    let admitted = 0;
    while (this.holders.size < this.capacity && this.line.length > 0) {
      const next = this.line.shift() as Waiter;
      this.holders.add(next.sid);
      next.admit();
      admitted++;
    }
    const from = admitted > 0 ? 0 : changedFrom;
    this.line.slice(from).forEach((w, i) => w.onPosition(from + i + 1));
  }

  get load(): { holding: number; waiting: number; capacity: number } {
    return { holding: this.holders.size, waiting: this.line.length, capacity: this.capacity };
  }
}
