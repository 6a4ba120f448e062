/**
 * Load schedules shared by the scenarios, as k6 arrival-rate executor
 * settings. Only the shape lives here; the rates come from each scenario.
 */
import { droppedBound, seconds } from './config.js';

/** A steady rate for a duration: the shape for read-heavy, write-heavy, mixed and soak. */
export function constantRate({ rate, duration, vus, exec = 'default' }) {
  return {
    executor: 'constant-arrival-rate',
    exec,
    rate,
    timeUnit: '1s',
    duration,
    preAllocatedVUs: vus,
    // Twice the pre-allocation, so a slow patch shows as latency before it shows as drops.
    maxVUs: vus * 2,
  };
}

/** Iterations a constant-rate schedule asks for. */
export function constantIterations(rate, duration) {
  return Math.round(rate * seconds(duration));
}

/**
 * A spike: `base` for a hold, a fast ramp to `peak`, a hold there, a ramp
 * back and a recovery hold. Ramps take half a hold.
 */
export function spikeStages(base, peak, hold) {
  const ramp = `${seconds(hold) / 2}s`;
  return [
    { target: base, duration: hold },
    { target: peak, duration: ramp },
    { target: peak, duration: hold },
    { target: base, duration: ramp },
    { target: base, duration: hold },
  ];
}

/** A ramping-arrival-rate executor over `stages`, starting at `startRate`. */
export function rampingRate({ startRate, stages, vus, exec = 'default' }) {
  return { executor: 'ramping-arrival-rate', exec, startRate, timeUnit: '1s', stages, preAllocatedVUs: vus, maxVUs: vus * 2 };
}

/** Iterations a ramping schedule asks for: the area under its stages (linear ramps). */
export function rampingIterations(startRate, stages) {
  let from = startRate;
  let total = 0;
  for (const s of stages) {
    total += ((from + s.target) / 2) * seconds(s.duration);
    from = s.target;
  }
  return Math.round(total);
}

/** The `dropped_iterations` threshold for a schedule of `iterations`. */
export const droppedThreshold = (iterations, share) => [droppedBound(iterations, share)];
