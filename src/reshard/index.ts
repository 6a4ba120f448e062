/** Online resharding: plan, run, inspect and undo moves of ksid ranges between shards. */
export { buildPlan, currentMap, parseKsidArg, type Plan, type PlanRequest, type Move } from './plan.js';
export { runWorkflow, type Action, type RunDeps } from './runner.js';
export { WorkflowStore, type NewWorkflow } from './workflow-store.js';
export { ReshardError, ReshardInputError, type ReshardInputCode } from './errors.js';
export { createReporter, silentReporter, type Reporter } from './progress.js';
export { DEFAULT_RUN_OPTIONS, type RunOptions } from './context.js';
export { replicationNames, FINAL_PHASES, type Workflow, type Phase, type VerifyResult, type CutoverTimings } from './workflow.js';
export { startPlan } from './start.js';
export { describeWorkflow, workflowLag } from './describe.js';
