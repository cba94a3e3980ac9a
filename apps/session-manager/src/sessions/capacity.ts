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
 *
 * A prepared session (the warm pool) holds its slot preemptibly: a request that would wait has the oldest one
 * given up for it (`preempt` stops it, and its release admits the request), so the pool never keeps anyone waiting
 * longer than that stop takes. Whoever ends a prepared session (the gate, the culler) first marks it given up, and a
 * launch first keeps it: one synchronous step each, so a launch and a stop never both get the same session.
 */
export class CapacityGate {
  private readonly holders = new Set<string>();
  private readonly line: Waiter[] = [];
  /** Holders that give way to a waiting request, oldest first (a Set keeps insertion order). */
  private readonly preemptible = new Set<string>();
  /** Preemptible holders already told to give way: not to be told twice, nor taken by a launch meanwhile. */
  private readonly giving = new Set<string>();
  /** For each count from the store in progress (`countRunning`), the sessions released since it began reading. */
  private readonly releasedDuring = new Set<Set<string>>();

  constructor(
    private readonly capacity: number,
    private readonly hooks: {
      /** Told to stop a prepared session that is to give way to a waiting request. */
      preempt?: (sid: string) => void;
      /**
       * Told when a request has to wait: a slot may be held by a session that ended elsewhere (see CapacityAudit).
       * Resolves when it has looked; only a request still waiting then has a prepared session stopped for it.
       */
      crowded?: () => Promise<void>;
    } = {},
  ) {}

  /** Resolves when `sid` holds a slot; rejects with LeftTheLineError if `leave(sid)` is called first. */
  acquire(sid: string, onPosition: (position: number) => void = () => undefined): Promise<void> {
    if (this.holders.has(sid)) return Promise.resolve();
    if (this.tryAcquire(sid)) return Promise.resolve();
    return new Promise<void>((admit, reject) => {
      this.line.push({ sid, onPosition, admit, reject });
      onPosition(this.line.length);
      const crowded = this.hooks.crowded;
      if (crowded) void crowded().then(() => this.preemptFor(sid));
      else this.preemptFor(sid);
    });
  }

  /** Has the oldest prepared session not yet giving way stopped for `sid`, if it still waits. */
  private preemptFor(sid: string): void {
    if (!this.line.some((w) => w.sid === sid)) return;
    const victim = [...this.preemptible].find((held) => !this.giving.has(held));
    if (victim === undefined) return;
    this.giving.add(victim);
    this.hooks.preempt?.(victim);
  }

  /** Takes a free slot if there is one and nobody waits; `preemptible` for a prepared session. Never waits. */
  tryAcquire(sid: string, options: { preemptible?: boolean } = {}): boolean {
    if (this.holders.size >= this.capacity || this.line.length > 0) return false;
    this.reserve(sid, options);
    return true;
  }

  /** Counts a session that already runs (found at start-up) against the capacity. */
  reserve(sid: string, options: { preemptible?: boolean } = {}): void {
    this.holders.add(sid);
    if (options.preemptible) this.preemptible.add(sid);
  }

  /**
   * Counts the sessions `read` finds running that hold no slot: ones recovery adopted while this process ran (it
   * revives a session whose container outlived its end, and rebuilds one whose record was lost), which no launch
   * here admitted. A session released while `read` ran is left alone: the read may predate the stop that released
   * it. Returns the sessions it counted.
   */
  async countRunning(read: () => Promise<ReadonlyArray<{ sid: string; preemptible: boolean }>>): Promise<string[]> {
    const released = new Set<string>();
    this.releasedDuring.add(released);
    let running: ReadonlyArray<{ sid: string; preemptible: boolean }>;
    try {
      running = await read();
    } finally {
      this.releasedDuring.delete(released);
    }
    const uncounted = running.filter(({ sid }) => !this.holders.has(sid) && !released.has(sid));
    for (const { sid, preemptible } of uncounted) this.reserve(sid, { preemptible });
    // A request that found no prepared session to give way when it joined the line has one now.
    uncounted.filter((s) => s.preemptible).forEach((_, i) => {
      const waiter = this.line[i];
      if (waiter) this.preemptFor(waiter.sid);
    });
    return uncounted.map(({ sid }) => sid);
  }

  /**
   * Marks a prepared session's slot as being given up (the culler is about to stop it), counting it first if it
   * was not (recovery adopted it while this process ran). False if a launch kept it, or it is given up already:
   * then it is not to be stopped as prepared.
   */
  giveUp(sid: string): boolean {
    if (this.giving.has(sid) || (this.holders.has(sid) && !this.preemptible.has(sid))) return false;
    // Preemptible as every prepared session is, should its stop fail (`stillHeld`).
    this.reserve(sid, { preemptible: true });
    this.giving.add(sid);
    return true;
  }

  /** Undoes `giveUp` (or the gate's own choice) for a prepared session whose stop failed: it may be chosen again. */
  stillHeld(sid: string): void {
    this.giving.delete(sid);
  }

  /**
   * Makes a preemptible slot a lasting one (a prepared session launched by its owner); one recovery adopted while
   * this process ran was not counted yet, and is now. False if the slot is being given up already: the session is
   * then not to be launched from.
   */
  keep(sid: string): boolean {
    if (this.giving.has(sid)) return false;
    this.holders.add(sid);
    this.preemptible.delete(sid);
    return true;
  }

  /** Frees the slot of `sid`, or takes it out of the line; either way the next in line may go. */
  release(sid: string): void {
    const at = this.line.findIndex((w) => w.sid === sid);
    if (at >= 0) {
      const [waiter] = this.line.splice(at, 1);
      waiter?.reject(new LeftTheLineError(`session ${sid} left the line`));
    }
    this.holders.delete(sid);
    this.preemptible.delete(sid);
    this.giving.delete(sid);
    for (const released of this.releasedDuring) released.add(sid);
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

  /** The sessions holding a slot. */
  held(): string[] {
    return [...this.holders];
  }

  get load(): { holding: number; waiting: number; capacity: number; warm: number } {
    return { holding: this.holders.size, waiting: this.line.length, capacity: this.capacity, warm: this.preemptible.size };
  }
}
