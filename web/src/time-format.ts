/** How the page writes a message's time (no DOM: unit-tested in Node). */

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayAndClock = new Intl.DateTimeFormat(undefined, {
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
});
const fullDate = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** The time alone for today's messages, with the date for older ones (and the year for past years). */
export function shortTime(date: Date, now = new Date()): string {
  if (date.toDateString() === now.toDateString()) return clock.format(date);
  if (date.getFullYear() === now.getFullYear()) return dayAndClock.format(date);
  return fullDate.format(date);
}
