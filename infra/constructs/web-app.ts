import { existsSync } from "node:fs";
import path from "node:path";
import { CfnOutput, DefaultStackSynthesizer, Duration, RemovalPolicy, Stack, type CfnElement } from "aws-cdk-lib";
import type { RestApi } from "aws-cdk-lib/aws-apigateway";
import {
  AllowedMethods,
  CachePolicy,
  Distribution,
  Function as CloudFrontFunction,
  FunctionCode,
  FunctionEventType,
  FunctionRuntime,
  HeadersFrameOption,
  HeadersReferrerPolicy,
  HttpVersion,
  OriginRequestPolicy,
  PriceClass,
  ResponseHeadersPolicy,
  ViewerProtocolPolicy,
} from "aws-cdk-lib/aws-cloudfront";
import { RestApiOrigin, S3BucketOrigin } from "aws-cdk-lib/aws-cloudfront-origins";
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from "aws-cdk-lib/aws-s3";
import { BucketDeployment, CacheControl, Source } from "aws-cdk-lib/aws-s3-deployment";
import { Construct, type IConstruct } from "constructs";
import { CONTENT_SECURITY_POLICY, HASHED_ASSETS_PREFIX } from "../../web/security-headers.js";
import { projectRoot } from "../paths.js";

/** The built app (`npm run build -w mreg-web`, which cdk.json's build step runs before every synth). */
export const WEB_ASSETS = path.join(projectRoot, "web", "dist");

export interface WebAppProps {
  /** The registry's REST API; `/v1/*` is forwarded to its deployment stage. */
  api: RestApi;
  /** Where the built app is; web/dist unless a test supplies another. */
  assetsPath?: string;
}

/**
 * The browser app on one origin with the API: a CloudFront distribution whose default
 * behaviour serves the built files from a private bucket (origin access control: only this
 * distribution may read it) and whose `/v1/*` behaviour forwards to the API stage uncached,
 * Authorization header included. So the app needs no CORS and no credentials in URLs.
 */
export class WebApp extends Construct {
  readonly bucket: Bucket;
  readonly distribution: Distribution;
  readonly spaRouting: CloudFrontFunction;
  readonly deployments: BucketDeployment[];
  readonly url: string;

  constructor(scope: Construct, id: string, props: WebAppProps) {
    super(scope, id);
    const assetsPath = props.assetsPath ?? WEB_ASSETS;
    if (!existsSync(path.join(assetsPath, "index.html"))) {
      throw new Error(`the web app is not built (${assetsPath}/index.html is missing): run npm run build -w mreg-web`);
    }

    this.bucket = new Bucket(this, "Assets", {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      // Built files only, rebuilt from the repository on every deploy: nothing to keep.
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });

    // Every path but the hashed assets is a page of the app: its own router reads the path.
    this.spaRouting = new CloudFrontFunction(this, "SpaRouting", {
      runtime: FunctionRuntime.JS_2_0,
      comment: "mreg web app: every path outside /assets/ answers with index.html",
      code: FunctionCode.fromInline(
        [
          "function handler(event) {",
          "  var request = event.request;",
          `  if (!request.uri.startsWith(${JSON.stringify(HASHED_ASSETS_PREFIX)})) request.uri = "/index.html";`,
          "  return request;",
          "}",
        ].join("\n"),
      ),
    });

    const securityHeaders = new ResponseHeadersPolicy(this, "SecurityHeaders", {
      comment: "mreg web app: the same policy the local server sends (web/security-headers.ts)",
      securityHeadersBehavior: {
        contentSecurityPolicy: { contentSecurityPolicy: CONTENT_SECURITY_POLICY, override: true },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: HeadersReferrerPolicy.NO_REFERRER, override: true },
        strictTransportSecurity: { accessControlMaxAge: Duration.days(365), includeSubdomains: true, override: true },
      },
    });

    this.distribution = new Distribution(this, "Distribution", {
      comment: "mreg: web app and API on one origin",
      defaultRootObject: "index.html",
      httpVersion: HttpVersion.HTTP2_AND_3,
      priceClass: PriceClass.PRICE_CLASS_100,
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: CachePolicy.CACHING_OPTIMIZED,
        compress: true,
        responseHeadersPolicy: securityHeaders,
        functionAssociations: [{ function: this.spaRouting, eventType: FunctionEventType.VIEWER_REQUEST }],
      },
      additionalBehaviors: {
        "/v1/*": {
          // RestApiOrigin points at the stage (origin path /prod), so /v1/… keeps its path.
          origin: new RestApiOrigin(props.api),
          // An API call is never answered from a cache; uncached, the Authorization header may be forwarded.
          viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
          allowedMethods: AllowedMethods.ALLOW_ALL,
          cachePolicy: CachePolicy.CACHING_DISABLED,
          // API Gateway needs its own Host header; everything else the caller sent goes through.
          originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
          compress: true,
        },
      },
    });

    // Hashed files never change under their name; index.html names the current ones and is revalidated.
    this.deployments = [
      new BucketDeployment(this, "DeployAssets", {
        sources: [Source.asset(assetsPath, { exclude: ["index.html", ".vite", ".vite/**"] })],
        destinationBucket: this.bucket,
        cacheControl: [CacheControl.fromString("public, max-age=31536000, immutable")],
        // Old hashed files stay for pages still open on an earlier build.
        prune: false,
      }),
    ];
    this.deployments.push(
      new BucketDeployment(this, "DeployIndex", {
        sources: [Source.asset(assetsPath, { exclude: ["*", "!index.html"] })],
        destinationBucket: this.bucket,
        // no-cache: CloudFront (CachingOptimized, 1 s minimum) and browsers revalidate, so no invalidation is needed.
        cacheControl: [CacheControl.noCache()],
        prune: false,
      }),
    );
    // index.html must not name files that are not uploaded yet.
    this.deployments[1]!.node.addDependency(this.deployments[0]!);

    this.url = `https://${this.distribution.distributionDomainName}/`;
    new CfnOutput(Stack.of(this), "AppUrl", {
      value: this.url,
      description: "the mreg web app (and the API under /v1/ on the same origin)",
    });
  }

  /** The construct holding the Lambda function that copies the assets (one per stack, shared by both deployments). */
  deploymentHandler(): IConstruct {
    const handler = Stack.of(this).node.children.find((child) => child.node.id.startsWith("Custom::CDKBucketDeployment"));
    if (!handler) throw new Error("the bucket deployment's handler is missing from the stack");
    return handler;
  }
}

/** The cdk-nag findings the web app accepts, each with its reason (infra/nag-suppressions.ts adds them). */
export function webAppFindings(web: WebApp): { scope: IConstruct; id: string; reason: string }[] {
  const distribution = web.distribution;
  const handler = web.deploymentHandler();
  const stack = Stack.of(web);
  const bucketId = stack.getLogicalId(web.bucket.node.defaultChild as CfnElement);
  const stagingBucket = `arn:<AWS::Partition>:s3:::cdk-${DefaultStackSynthesizer.DEFAULT_QUALIFIER}-assets-<AWS::AccountId>-<AWS::Region>/*`;
  const copyReason =
    "CDK's BucketDeployment copies the built app from the CDK asset bucket into the app's bucket at deploy time; it grants itself read on the asset object and read/write/delete on the app's bucket, expressed with these wildcards. The function runs only during deployments.";
  return [
    {
      scope: web.bucket,
      id: "AwsSolutions-S1",
      reason:
        "The bucket holds only the built web app (public code, rebuilt on every deploy) and only CloudFront reads it; per-object access logs would record page loads, which say nothing about registry data. API calls are in the API Gateway access log.",
    },
    {
      scope: distribution,
      id: "AwsSolutions-CFR1",
      reason:
        "The registry serves its organisation wherever its people work; access is decided by API keys on every /v1 call, not by country. Add a geo restriction per deployment if policy asks for one.",
    },
    {
      scope: distribution,
      id: "AwsSolutions-CFR2",
      reason:
        "A WAF web ACL has a monthly fee per ACL and rule that an idle registry should not carry (the same choice as AwsSolutions-APIG3 for the API); the API behind /v1 is throttled per stage and needs a key. Associate an ACL when the app faces the open internet.",
    },
    {
      scope: distribution,
      id: "AwsSolutions-CFR3",
      reason:
        "Every /v1 request reaches API Gateway, whose access log records it with the caller's IP and status; the rest are downloads of the static app. Standard logs would need a bucket with ACLs enabled for little added information.",
    },
    {
      scope: distribution,
      id: "AwsSolutions-CFR4",
      reason:
        "The distribution uses CloudFront's default *.cloudfront.net certificate, whose minimum protocol version cannot be set. Give it a custom domain with an ACM certificate and TLSv1.2_2021 where the organisation requires it.",
    },
    {
      scope: handler,
      id: "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
      reason:
        "CDK's BucketDeployment function writes its logs through the AWS-managed basic execution policy; it has no other managed policy.",
    },
    {
      scope: handler,
      id: "AwsSolutions-L1",
      reason:
        "The runtime of CDK's BucketDeployment function is chosen and updated by aws-cdk-lib itself (its Python handler); upgrading aws-cdk-lib moves it.",
    },
    ...["Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*", "Action::s3:DeleteObject*", "Action::s3:Abort*"].map(
      (finding) => ({
        scope: handler,
        id: `AwsSolutions-IAM5[${finding}]`,
        reason: copyReason,
      }),
    ),
    { scope: handler, id: `AwsSolutions-IAM5[Resource::${stagingBucket}]`, reason: copyReason },
    { scope: handler, id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/*]`, reason: copyReason },
  ];
}
