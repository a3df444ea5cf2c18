export function epochSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
