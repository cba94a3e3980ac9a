// The one table renderer: the page's three tables (the user's sessions, everyone's sessions for administrators,
// transcriptions) are columns over a list of rows.

/** A cell: its text, or the elements it holds (buttons, links, a progress bar). */
export type Cell = string | Node[];

export interface Column<T> {
  cell(row: T): Cell;
  /** A class for the cell, for styling (`state-ready`). */
  className?(row: T): string;
}

/**
 * Replaces the body of `#tableId` with one row per item, keyed by `key` (as `data-key`, for updates in place);
 * `#emptyId`, when given, shows while there are none.
 */
export function renderTable<T>(tableId: string, rows: readonly T[], columns: readonly Column<T>[], key: (row: T) => string, emptyId?: string): void {
  const table = document.getElementById(tableId) as HTMLTableElement | null;
  const body = table?.tBodies[0];
  if (!body) throw new Error(`the page has no table #${tableId} with a body`);
  body.replaceChildren(
    ...rows.map((row) => {
      const tr = document.createElement('tr');
      tr.dataset.key = key(row);
      for (const column of columns) {
        const td = tr.insertCell();
        const content = column.cell(row);
        if (typeof content === 'string') td.textContent = content;
        else td.append(...content);
        const className = column.className?.(row);
        if (className) td.className = className;
      }
      return tr;
    }),
  );
  if (emptyId) {
    const empty = document.getElementById(emptyId);
    if (empty) empty.hidden = rows.length > 0;
  }
}

/** A list fetcher whose answers are shown only when they are the newest asked for. */
export function newestOnly<T>(fetchList: () => Promise<T>, render: (list: T) => void | Promise<void>): () => Promise<void> {
  // Refreshes overlap (a stop announces `stopping` and then `stopped`, each a refresh) and their answers can arrive
  // in either order, so an older list (still `stopping`) could otherwise overwrite a newer one.
  let asked = 0;
  return async () => {
    const mine = ++asked;
    const list = await fetchList();
    if (mine === asked) await render(list);
  };
}
