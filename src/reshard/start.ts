/** `plan --apply`: stores the workflows of a checked plan (and registers a new shard first). */
import type { CatalogStore } from '../catalog/store.js';
import { formatKeyRange } from '../routing/keyrange.js';
import type { Plan } from './plan.js';
import type { Workflow } from './workflow.js';
import type { WorkflowStore } from './workflow-store.js';

export async function startPlan(catalog: CatalogStore, workflows: WorkflowStore, plan: Plan): Promise<Workflow[]> {
  if (plan.register) await catalog.addShard({ name: plan.register.name, primaryUrl: plan.register.primaryUrl, replicaUrls: plan.register.replicaUrls });
  return workflows.create(plan.moves.map((m) => ({ kind: m.kind, source: m.source, target: m.target, range: formatKeyRange(m.range), rowsTotal: m.rows, bytesTotal: m.bytes })));
}
