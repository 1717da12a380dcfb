import pg from 'pg';

/** NOTIFY channel on which every insert, update or delete of a definition sends its id. */
export const DEFINITIONS_CHANNEL = 'ac_definitions';

export interface DefinitionListener extends AsyncDisposable {
  close(): Promise<void>;
}

export interface ListenDefinitionChangesOptions {
  readonly url: string;
  readonly onChange: (definitionId: string) => void;
  /** The connection broke; no more changes arrive. Re-create the listener and reload everything. */
  readonly onError: (error: Error) => void;
}

/**
 * LISTEN for definition changes on a dedicated connection (not from the pool: a pooled client
 * would be handed to other queries). Notifications are hints: a cache must still reload in full
 * after (re)connecting, since changes made while disconnected are not replayed.
 */
export async function listenForDefinitionChanges(options: ListenDefinitionChangesOptions): Promise<DefinitionListener> {
  const client = new pg.Client({ connectionString: options.url, application_name: 'activity-core-listen' });
  let closed = false;
  client.on('notification', (msg) => {
    if (msg.channel === DEFINITIONS_CHANNEL && msg.payload) options.onChange(msg.payload);
  });
  client.on('error', (error) => {
    if (!closed) options.onError(error);
  });
  await client.connect();
  await client.query(`listen ${DEFINITIONS_CHANNEL}`);
  const close = async () => {
    if (closed) return;
    closed = true;
    await client.end();
  };
  return { close, [Symbol.asyncDispose]: close };
}
