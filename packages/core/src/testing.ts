/**
 * Zones whose rules reach every corner of the local-time engine, shared by its unit tests and
 * the integration suite (`@activity-core/core/testing`): DST at midnight (Santiago, Havana,
 * Chisinau), 30- and 45-minute shifts and offsets (Lord Howe, Chatham, Kathmandu, St John's,
 * Tehran), a 2-hour shift (Troll), negative DST (Dublin), Ramadan suspensions (Casablanca),
 * zones whose rules changed recently (Vancouver, Edmonton), both hemispheres, and UTC.
 */
export const DST_TEST_ZONES = [
  'America/Santiago',
  'America/Havana',
  'Europe/Berlin',
  'Australia/Lord_Howe',
  'Pacific/Chatham',
  'America/Vancouver',
  'America/Edmonton',
  'Africa/Casablanca',
  'Europe/Chisinau',
  'America/New_York',
  'Europe/London',
  'Europe/Dublin',
  'Australia/Sydney',
  'Pacific/Auckland',
  'Asia/Kathmandu',
  'America/St_Johns',
  'Asia/Tehran',
  'Antarctica/Troll',
  'UTC',
] as const;
