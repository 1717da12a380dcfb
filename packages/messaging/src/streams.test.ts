import { JetStreamApiError, StorageType } from '@nats-io/jetstream';
import { describe, expect, test } from 'vitest';
import {
  DEFAULT_STREAM_LIMITS,
  fieldsNotUpdatable,
  refusalHint,
  type StreamEnv,
  StreamSettingsError,
  streamConfigs,
  streamLimitsFrom,
} from './streams.ts';
import { topology } from './topology.ts';

const env: StreamEnv = {
  AC_STREAM_REPLICAS: 3,
  AC_STREAM_STORAGE: 'memory',
  AC_STREAM_DISCARD: 'new',
  AC_STREAM_MAX_BYTES: 1_000_000,
  AC_EVENTS_MAX_AGE_MS: 3_600_000,
  AC_TASKS_MAX_AGE_MS: 7_200_000,
  AC_DLQ_MAX_AGE_MS: 10_800_000,
  AC_EVENTS_DUPLICATE_WINDOW_MS: 60_000,
  AC_TASKS_DUPLICATE_WINDOW_MS: 120_000,
  AC_DLQ_DUPLICATE_WINDOW_MS: 40_000,
};

describe('streamLimitsFrom / streamConfigs', () => {
  test('every variable reaches the stream configs', () => {
    const configs = new Map(streamConfigs(topology(), streamLimitsFrom(env)).map((c) => [c.name, c]));
    expect([...configs.keys()]).toEqual(['AC_TASKS', 'AC_DLQ', 'AC_EVENTS', 'AC_ADVISORIES']);
    for (const c of configs.values()) {
      expect(c).toMatchObject({ num_replicas: 3, storage: StorageType.Memory, discard: 'new', max_bytes: 1_000_000 });
    }
    expect(configs.get('AC_EVENTS')).toMatchObject({ max_age: 3_600_000 * 1e6, duplicate_window: 60_000 * 1e6 });
    expect(configs.get('AC_TASKS')).toMatchObject({ max_age: 7_200_000 * 1e6, duplicate_window: 120_000 * 1e6 });
    expect(configs.get('AC_DLQ')).toMatchObject({ max_age: 10_800_000 * 1e6, duplicate_window: 40_000 * 1e6 });
    expect(configs.get('AC_ADVISORIES')).toMatchObject({ max_age: 10_800_000 * 1e6 });
  });

  test('the defaults are one file-stored copy, unbounded in size, discarding old', () => {
    for (const c of streamConfigs(topology(), DEFAULT_STREAM_LIMITS)) {
      expect(c).toMatchObject({ num_replicas: 1, storage: StorageType.File, discard: 'old', max_bytes: -1 });
    }
  });

  test('contradicting variables are refused by name before any server is asked', () => {
    const bad = () =>
      streamLimitsFrom({
        ...env,
        AC_STREAM_REPLICAS: 2,
        AC_TASKS_DUPLICATE_WINDOW_MS: 8_000_000,
        AC_STREAM_MAX_BYTES: 0,
      });
    expect(bad).toThrow(StreamSettingsError);
    expect(bad).toThrow(/AC_STREAM_REPLICAS: must be 1, 3 or 5/);
    expect(bad).toThrow(/AC_TASKS_DUPLICATE_WINDOW_MS: must not exceed AC_TASKS_MAX_AGE_MS/);
    expect(bad).toThrow(/AC_STREAM_MAX_BYTES/);
    expect(() => streamLimitsFrom({ ...env, AC_DLQ_DUPLICATE_WINDOW_MS: 5_000 })).toThrow(
      /AC_DLQ_DUPLICATE_WINDOW_MS: must cover the publish retries/,
    );
    try {
      bad();
    } catch (error) {
      expect((error as StreamSettingsError).code).toBe('settings_invalid');
    }
  });
});

describe('what cannot be updated in place', () => {
  test('a storage change is named with the variable and what to do', () => {
    const [problem, ...rest] = fieldsNotUpdatable(
      { name: 'AC_EVENTS', storage: StorageType.File, retention: 'limits' as never },
      { storage: StorageType.Memory, retention: 'limits' as never },
    );
    expect(rest).toEqual([]);
    expect(problem).toMatch(/storage is file, AC_STREAM_STORAGE asks for memory/);
    expect(problem).toMatch(/AC_STREAM_STORAGE=file/);
    expect(problem).toMatch(/nats stream backup AC_EVENTS/);
  });

  test('replicas, ages and windows are not blocked (NATS updates them)', () => {
    expect(
      fieldsNotUpdatable(
        { name: 'AC_TASKS', storage: StorageType.File, retention: 'limits' as never },
        { storage: StorageType.File, retention: 'limits' as never },
      ),
    ).toEqual([]);
  });

  test('server refusals point at the variable', () => {
    const refused = (code: number, description: string) =>
      new JetStreamApiError({ err_code: code, code: 500, description });
    expect(refusalHint(refused(10074, 'replicas > 1 not supported in non-clustered mode'), 3)).toMatch(
      /AC_STREAM_REPLICAS=1/,
    );
    expect(refusalHint(refused(10023, 'insufficient resources'), 5)).toMatch(
      /AC_STREAM_REPLICAS=5 needs that many JetStream servers/,
    );
    expect(refusalHint(refused(10005, 'no suitable peers for placement'), 3)).toMatch(/needs that many/);
    expect(refusalHint(refused(10052, 'duplicates window can not be larger then max age'), 1)).toMatch(
      /DUPLICATE_WINDOW_MS/,
    );
    expect(refusalHint(new Error('replicas > 1 not supported in non-clustered mode'), 3)).not.toMatch(/not clustered/);
  });
});
