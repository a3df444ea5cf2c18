/** Types for the parts of `dynalite` (no published types) the local runtime uses. */
declare module 'dynalite' {
  import type { Server } from 'node:http';

  interface DynaliteOptions {
    /** LevelDB directory; in memory when omitted. */
    path?: string;
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    maxItemSizeKb?: number;
    verbose?: boolean;
    debug?: boolean;
  }

  /** An unstarted HTTP server whose `request` listener speaks the DynamoDB API. */
  function dynalite(options?: DynaliteOptions): Server;
  export default dynalite;
}
