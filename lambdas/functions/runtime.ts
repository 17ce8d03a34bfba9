import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { Tracer } from "@aws-lambda-powertools/tracer";
import { createServices, type ServiceOptions, type Services } from "../composition.js";
import { loadConfig } from "../config.js";
import {
  createLogger,
  meterVerifiedBytes,
  METRICS_NAMESPACE,
  SERVICE_NAME,
  type BusinessMetrics,
  type Observability,
} from "../observability.js";

export interface LambdaRuntime {
  services: Services;
  observability: Observability;
}

/**
 * What every Lambda entry point builds once, at module scope, so a container pays for it at
 * cold start only: the configuration (a bad one fails the cold start), the logger, the
 * tracer (DynamoDB calls become subsegments; HTTP calls, S3 included, are captured as
 * requests), the EMF metrics and the services. Presigning runs through the S3 client's
 * middleware without sending anything, so that client is not instrumented: a plan of a
 * thousand part URLs would otherwise add a thousand empty subsegments.
 */
export function createLambdaRuntime(options: Pick<ServiceOptions, "aliasPatterns"> = {}): LambdaRuntime {
  const config = loadConfig();
  const logger = createLogger(config);
  const tracer = new Tracer({ serviceName: SERVICE_NAME });
  const metrics = emfMetrics(new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME, logger }));
  const built = createServices(config, { ...options, instrumentDynamo: (client) => tracer.captureAWSv3Client(client) });
  const services = { ...built, blobs: meterVerifiedBytes(built.blobs, metrics) };
  return { services, observability: { logger, tracer, metrics } };
}

/** The business metrics as CloudWatch embedded metric format lines, one per invocation. */
export function emfMetrics(metrics: Metrics): BusinessMetrics {
  return {
    versionCommitted: () => metrics.addMetric("VersionsCommitted", MetricUnit.Count, 1),
    bytesVerified: (bytes) => metrics.addMetric("BytesVerified", MetricUnit.Bytes, bytes),
    linkCreated: () => metrics.addMetric("LinksCreated", MetricUnit.Count, 1),
    webhookDeliveries: (outcome, count) => {
      // Its own line: the outcome is a dimension of this metric only.
      const single = metrics.singleMetric();
      single.addDimension("outcome", outcome);
      single.addMetric("WebhookDeliveries", MetricUnit.Count, count);
    },
    blobsCollected: (count, bytes) => {
      metrics.addMetric("BlobsCollected", MetricUnit.Count, count);
      metrics.addMetric("BytesCollected", MetricUnit.Bytes, bytes);
    },
    flush: () => {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    },
  };
}
