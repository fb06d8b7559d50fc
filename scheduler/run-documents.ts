// The shapes of the JSON columns of runs and deliveries, declared to the
// store (store/runs.ts RunDocuments, store/deliveries.ts DeliveryDocuments):
// events as normalized by providers/, the definition as parsed by pipelines/
// (null when the file did not parse), the explain trace of planning.
import type { EventExplain, Pipeline } from '../pipelines/index.ts';
import type { ForgeEvent } from '../providers/index.ts';

declare module '../store/runs.ts' {
  interface RunDocuments {
    event: ForgeEvent;
    definition: Pipeline | null;
  }
}

declare module '../store/deliveries.ts' {
  interface DeliveryDocuments {
    event: ForgeEvent;
    explain: EventExplain;
  }
}
