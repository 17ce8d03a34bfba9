import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { Role, ServicePrincipal, type PolicyStatement } from "aws-cdk-lib/aws-iam";
import { Architecture, Runtime, Tracing } from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { API_GATEWAY_TIMEOUT_SECONDS } from "../../lambdas/settings.js";
import { projectRoot } from "../paths.js";

export interface RegistryFunctionProps {
  /** Absolute path of the entry module; it exports `handler`. */
  entry: string;
  description: string;
  environment?: Record<string, string>;
  /** Exactly what the function may do besides writing its own logs. */
  statements?: PolicyStatement[];
  memorySize?: number;
  timeout?: Duration;
}

/**
 * Profiles, SSO, web identity, IMDS, container and process credentials: loaded by the SDK's
 * default chain through `import()` after the environment yielded nothing. A bare `node`
 * import of every bundle (test/infra) proves none of them is imported statically.
 */
export const UNUSED_CREDENTIAL_SOURCES = [
  "@aws-sdk/credential-provider-http",
  "@aws-sdk/credential-provider-ini",
  "@aws-sdk/credential-provider-login",
  "@aws-sdk/credential-provider-process",
  "@aws-sdk/credential-provider-sso",
  "@aws-sdk/credential-provider-web-identity",
  "@aws-sdk/nested-clients",
  "@aws-sdk/token-providers",
  "@smithy/credential-provider-imds",
];

/** The Lambda runtime every function uses; Node 24 is the newest managed Node runtime. */
export const REGISTRY_RUNTIME = Runtime.NODEJS_24_X;

/**
 * A Lambda function with the registry's defaults: Node 24 on ARM64, bundled by the local
 * esbuild (no Docker) into one minified ES module with a source map, active X-Ray tracing,
 * its own log group and its own role, which starts with nothing but that log group and
 * sending traces.
 */
export class RegistryFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: RegistryFunctionProps) {
    super(scope, id);
    this.logGroup = new LogGroup(this, "Logs", {
      retention: RetentionDays.ONE_MONTH,
      // Function logs are for debugging; the audit trail is in the table and the access logs.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // A role of our own instead of the default one, which attaches the AWS-managed
    // AWSLambdaBasicExecutionRole (logs:* on every log group in the account).
    this.role = new Role(this, "Role", {
      assumedBy: new ServicePrincipal("lambda.amazonaws.com"),
      description: `mreg ${id}: its log group and the grants declared in infra/function-access.ts`,
    });
    this.logGroup.grantWrite(this.role);
    for (const statement of props.statements ?? []) this.role.addToPolicy(statement);

    this.function = new NodejsFunction(this, "Handler", {
      entry: props.entry,
      handler: "handler",
      description: props.description,
      runtime: REGISTRY_RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 1024,
      // API Gateway gives up then; a function serving it has no use for longer by default.
      timeout: props.timeout ?? Duration.seconds(API_GATEWAY_TIMEOUT_SECONDS),
      role: this.role,
      logGroup: this.logGroup,
      // X-Ray traces every invocation; the Powertools tracer adds DynamoDB and HTTP subsegments
      // (lambdas/functions/runtime.ts). CDK grants the role what sending traces needs.
      tracing: Tracing.ACTIVE,
      projectRoot,
      depsLockFilePath: `${projectRoot}/package-lock.json`,
      environment: {
        // Stack traces point at the TypeScript sources (the map ships without sources content).
        NODE_OPTIONS: "--enable-source-maps",
        ...props.environment,
      },
      bundling: {
        forceDockerBundling: false,
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        target: "node24",
        format: OutputFormat.ESM,
        // ES builds of the SDK tree-shake far better than its CommonJS builds.
        mainFields: ["module", "main"],
        // The SDK is bundled, not taken from the runtime: the function runs the exact
        // versions the tests ran, and tree-shaking keeps it smaller than the full runtime copy.
        // Left out: the credential sources the SDK imports dynamically, and only when no
        // credentials are in the environment, which Lambda always sets (about 100 kB).
        externalModules: UNUSED_CREDENTIAL_SOURCES,
        // CommonJS dependencies inside an ES module bundle still call require() for builtins.
        banner: "import{createRequire as __mregCreateRequire}from'node:module';const require=__mregCreateRequire(import.meta.url);",
      },
    });
  }
}
