// Formats a one-line report (an ES module handler on the node runtime).
let reports = 0; // module state: survives across warm invocations

export const handler = async (event, context) => {
  reports += 1;
  const { stats, threshold } = event;
  const verdict = stats.mean > threshold ? 'above' : 'at or below';
  const line = `${stats.count} numbers, mean ${stats.mean} is ${verdict} ${threshold} (report ${reports} from ${context.functionName})`;
  console.log(line);
  return { line, above: stats.mean > threshold };
};
