// NATS names of the write queue: one subject, stream and durable consumer per storage node (server
// 2.9 rejects `filter_subjects`, so each node gets its own stream).

export function nodeSubject(nodeId: string): string {
  return `soltix.write.node.${nodeId}`;
}

/** Stream and consumer names may not hold '.', '*', '>' or spaces; node ids are [A-Za-z0-9_.-]. */
function safe(nodeId: string): string {
  return nodeId.replace(/[^A-Za-z0-9_-]/g, "_");
}

export function streamName(nodeId: string): string {
  return `SOLTIX_WRITE_${safe(nodeId)}`;
}

export function durableName(nodeId: string): string {
  return `soltix-node-${safe(nodeId)}`;
}

export const HEADER_BATCH = "Soltix-Batch";
export const HEADER_ACK_TO = "Soltix-Ack-To";
