import { runInNewContext } from "node:vm";
import { Match, type Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { CONTENT_SECURITY_POLICY } from "../../web/security-headers.js";
import { logicalId, synthesize, type SynthesizedApp } from "./synth.js";

let synth: SynthesizedApp;
let api: Template;

type Resources = Record<string, { Type: string; Properties: Record<string, any> }>;

// CloudFront's managed policies, by their fixed ids.
const CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
const ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac";

beforeAll(() => {
  synth = synthesize({ bundle: false });
  api = synth.api;
});

function distributionConfig() {
  const distributions = Object.values(api.findResources("AWS::CloudFront::Distribution") as Resources);
  expect(distributions).toHaveLength(1);
  return distributions[0]!.Properties.DistributionConfig;
}

describe("the web app's CloudFront distribution", () => {
  it("serves the app from a private bucket that only this distribution may read (origin access control)", () => {
    const config = distributionConfig();
    const bucketId = logicalId(synth.stateless.webApp.bucket);
    const s3 = config.Origins.find((o: any) => JSON.stringify(o.DomainName).includes(bucketId));
    expect(s3.OriginAccessControlId).toBeDefined();
    expect(s3.S3OriginConfig?.OriginAccessIdentity ?? "").toBe("");
    api.hasResourceProperties("AWS::CloudFront::OriginAccessControl", {
      OriginAccessControlConfig: { OriginAccessControlOriginType: "s3", SigningBehavior: "always", SigningProtocol: "sigv4" },
    });
    api.hasResourceProperties("AWS::S3::Bucket", {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: Match.anyValue(),
    });
    const policies = Object.values(api.findResources("AWS::S3::BucketPolicy") as Resources).filter((p) =>
      JSON.stringify(p.Properties.Bucket).includes(bucketId),
    );
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement);
    const read = statements.find((s: any) => s.Principal?.Service === "cloudfront.amazonaws.com");
    expect(read.Action).toBe("s3:GetObject");
    expect(JSON.stringify(read.Condition)).toContain(logicalId(synth.stateless.webApp.distribution));
    // Nothing else may read it, and only over TLS.
    expect(
      statements
        .filter((s: any) => s.Effect === "Allow")
        .every(
          (s: any) =>
            s.Principal?.Service === "cloudfront.amazonaws.com" || JSON.stringify(s.Principal).includes("CustomS3AutoDeleteObjects"),
        ),
    ).toBe(true);
    expect(statements.some((s: any) => s.Effect === "Deny" && JSON.stringify(s.Condition).includes("aws:SecureTransport"))).toBe(true);
  });

  it("forwards /v1/* to the API stage, uncached, every method, the caller's headers but Host", () => {
    const config = distributionConfig();
    const apiId = logicalId(synth.stateless.api.api);
    const apiOrigin = config.Origins.find((o: any) => JSON.stringify(o.DomainName).includes(apiId));
    // "/" and the stage's name, read from the stage's URL (the prod stage of this API).
    expect(JSON.stringify(apiOrigin.OriginPath)).toContain(logicalId(synth.stateless.api.api.deploymentStage));
    expect(JSON.stringify(apiOrigin.DomainName)).toContain("execute-api");
    expect(apiOrigin.CustomOriginConfig.OriginProtocolPolicy).toBe("https-only");
    expect(config.CacheBehaviors).toHaveLength(1);
    const v1 = config.CacheBehaviors[0];
    expect(v1).toMatchObject({
      PathPattern: "/v1/*",
      TargetOriginId: apiOrigin.Id,
      ViewerProtocolPolicy: "https-only",
      CachePolicyId: CACHING_DISABLED,
      OriginRequestPolicyId: ALL_VIEWER_EXCEPT_HOST_HEADER,
    });
    expect([...v1.AllowedMethods].sort()).toEqual(["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]);
    // The app's routing and headers stay on the app: API answers (401, 403, 404 bodies) pass through untouched.
    expect(v1.FunctionAssociations).toBeUndefined();
    expect(config.CustomErrorResponses).toBeUndefined();
  });

  it("serves every path but /assets/ as index.html, through a viewer-request function", () => {
    const config = distributionConfig();
    const behaviour = config.DefaultCacheBehavior;
    expect(behaviour.ViewerProtocolPolicy).toBe("redirect-to-https");
    expect(behaviour.AllowedMethods).toEqual(["GET", "HEAD"]);
    expect(config.DefaultRootObject).toBe("index.html");
    expect(behaviour.FunctionAssociations).toEqual([expect.objectContaining({ EventType: "viewer-request" })]);
    const fn = Object.values(api.findResources("AWS::CloudFront::Function") as Resources)[0]!.Properties;
    expect(fn.FunctionConfig.Runtime).toBe("cloudfront-js-2.0");
    // Run the function's own code on the paths a browser asks for.
    const handler = runInNewContext(`${fn.FunctionCode}; handler`) as (event: unknown) => { uri: string };
    const uriFor = (uri: string) => handler({ request: { uri } }).uri;
    expect(uriFor("/")).toBe("/index.html");
    expect(uriFor("/registries/model/collections/mnist.v2/versions/v3/lineage")).toBe("/index.html");
    expect(uriFor("/assets/index-abc123.js")).toBe("/assets/index-abc123.js");
  });

  it("sends the app's security headers, the same policy the local server sends", () => {
    api.hasResourceProperties("AWS::CloudFront::ResponseHeadersPolicy", {
      ResponseHeadersPolicyConfig: Match.objectLike({
        SecurityHeadersConfig: Match.objectLike({
          ContentSecurityPolicy: { ContentSecurityPolicy: CONTENT_SECURITY_POLICY, Override: true },
          ContentTypeOptions: { Override: true },
          FrameOptions: { FrameOption: "DENY", Override: true },
          StrictTransportSecurity: Match.objectLike({ AccessControlMaxAgeSec: 31536000 }),
        }),
      }),
    });
    expect(distributionConfig().DefaultCacheBehavior.ResponseHeadersPolicyId).toBeDefined();
  });

  it("uploads the build: hashed assets cached for good, index.html revalidated", () => {
    const deployments = Object.values(api.findResources("Custom::CDKBucketDeployment") as Resources).map((r) => r.Properties);
    expect(deployments).toHaveLength(2);
    const cacheControls = deployments.map((d) => d.SystemMetadata?.["cache-control"]).sort();
    expect(cacheControls).toEqual(["no-cache", "public, max-age=31536000, immutable"]);
    for (const deployment of deployments) {
      expect(JSON.stringify(deployment.DestinationBucketName)).toContain(logicalId(synth.stateless.webApp.bucket));
      expect(deployment.Prune).toBe(false);
    }
  });

  it("outputs the app's URL", () => {
    const outputs = api.findOutputs("AppUrl");
    expect(Object.keys(outputs)).toHaveLength(1);
    expect(JSON.stringify(Object.values(outputs)[0]!.Value)).toContain(logicalId(synth.stateless.webApp.distribution));
  });
});
