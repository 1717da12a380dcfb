/** Shapes of Temporal's Schedule spec, as plain data (core does not depend on the SDK). */
export interface ScheduleRange<T> {
  start: T;
  end: T;
  step: number;
}
export type TemporalMonth =
  | 'JANUARY'
  | 'FEBRUARY'
  | 'MARCH'
  | 'APRIL'
  | 'MAY'
  | 'JUNE'
  | 'JULY'
  | 'AUGUST'
  | 'SEPTEMBER'
  | 'OCTOBER'
  | 'NOVEMBER'
  | 'DECEMBER';
export type TemporalDayOfWeek = 'SUNDAY' | 'MONDAY' | 'TUESDAY' | 'WEDNESDAY' | 'THURSDAY' | 'FRIDAY' | 'SATURDAY';
export type Loose<T> = T | ScheduleRange<T> | Array<T | ScheduleRange<T>> | '*';

/** Structurally compatible with `CalendarSpec` of `@temporalio/client`. */
export interface TemporalCalendarSpec {
  second?: Loose<number>;
  minute?: Loose<number>;
  hour?: Loose<number>;
  dayOfMonth?: Loose<number>;
  month?: Loose<TemporalMonth>;
  year?: Loose<number>;
  dayOfWeek?: Loose<TemporalDayOfWeek>;
  comment?: string;
}

/**
 * Structurally compatible with `ScheduleSpec` of `@temporalio/client` (jitter in milliseconds).
 * No `timezone`: every field is UTC, so the server's tz database is never consulted.
 */
export interface TemporalScheduleSpec {
  calendars: TemporalCalendarSpec[];
  /** First instant of the compiled window. */
  startAt: Date;
  /** Last second of the compiled window (inclusive, as Temporal reads it). */
  endAt: Date;
  jitter: number;
}

export const TEMPORAL_MONTHS: readonly TemporalMonth[] = [
  'JANUARY',
  'FEBRUARY',
  'MARCH',
  'APRIL',
  'MAY',
  'JUNE',
  'JULY',
  'AUGUST',
  'SEPTEMBER',
  'OCTOBER',
  'NOVEMBER',
  'DECEMBER',
];
export const TEMPORAL_DAYS_OF_WEEK: readonly TemporalDayOfWeek[] = [
  'SUNDAY',
  'MONDAY',
  'TUESDAY',
  'WEDNESDAY',
  'THURSDAY',
  'FRIDAY',
  'SATURDAY',
];
