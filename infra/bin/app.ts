import { App } from "aws-cdk-lib";
import { buildMregApp } from "../mreg-app.js";

const app = new App();
buildMregApp(app);
app.synth();
