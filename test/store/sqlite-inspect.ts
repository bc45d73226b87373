/** A side connection into a SQLite store's file, for tests that check what is really stored. */
import Database from 'better-sqlite3';

export function countRows(path: string, sql: string): number {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).pluck().get() as number;
  } finally {
    db.close();
  }
}

export const blobCount = (path: string) => countRows(path, 'SELECT count(*) FROM blobs');
export const chunkCount = (path: string) => countRows(path, 'SELECT count(*) FROM blob_chunks');

/** Deletes every chunk row behind the store's back. */
export function dropBodies(path: string): void {
  const db = new Database(path, { timeout: 5000 });
  try {
    db.pragma('foreign_keys = OFF');
    db.exec('DELETE FROM blob_chunks');
  } finally {
    db.close();
  }
}
