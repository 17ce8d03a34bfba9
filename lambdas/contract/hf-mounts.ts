/**
 * Where the Hugging Face Hub protocol is served (HF_ENDPOINT / hubUrl): registry collections
 * as repositories `{registry}/{collection}` under HF_MOUNT, project artifacts as
 * `{project}/{artifact}` under HF_PROJECTS_MOUNT. `_projects` cannot be a registry name
 * (names start with a letter or digit), so the two never shadow each other.
 */
export const HF_MOUNT = "/hf";
export const HF_PROJECTS_MOUNT = "/hf/_projects";
