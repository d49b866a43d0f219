// Signing in: the user pool checks the password, the identity pool turns the sign-in into
// short-lived IAM credentials, and every API call is signed with them (SigV4, like incidentctl).
// The credentials live in this module's memory only: never in a URL, cookie or storage.
import { AwsClient } from "aws4fetch";

async function awsJson(endpoint, target, body) {
  const response = await fetch(endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-amz-json-1.1", "x-amz-target": target },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const kind = String(data.__type || response.status).split("#").pop();
    throw new Error(signInMessage(kind, data.message || data.Message));
  }
  return data;
}

function signInMessage(kind, message) {
  if (kind === "NotAuthorizedException") return "wrong user name or password";
  if (kind === "UserNotFoundException") return "wrong user name or password";
  if (kind === "PasswordResetRequiredException") return "your password must be reset first; ask an administrator";
  return `sign-in failed: ${kind}${message ? ` (${message})` : ""}`;
}

/// Signs `username` in and returns a session that signs requests to the command API.
export async function signIn(config, username, password) {
  const idp = config.cognitoEndpoint || `https://cognito-idp.${config.region}.amazonaws.com/`;
  const identity = config.identityEndpoint || `https://cognito-identity.${config.region}.amazonaws.com/`;
  const auth = await awsJson(idp, "AWSCognitoIdentityProviderService.InitiateAuth", {
    AuthFlow: "USER_PASSWORD_AUTH",
    ClientId: config.userPoolClientId,
    AuthParameters: { USERNAME: username, PASSWORD: password },
  });
  if (auth.ChallengeName) {
    throw new Error(`sign-in needs ${auth.ChallengeName}: finish it with an administrator first`);
  }
  const provider = `cognito-idp.${config.region}.amazonaws.com/${config.userPoolId}`;
  const logins = { [provider]: auth.AuthenticationResult.IdToken };
  const { IdentityId } = await awsJson(identity, "AWSCognitoIdentityService.GetId", {
    IdentityPoolId: config.identityPoolId,
    Logins: logins,
  });
  const { Credentials } = await awsJson(identity, "AWSCognitoIdentityService.GetCredentialsForIdentity", {
    IdentityId,
    Logins: logins,
  });
  const client = new AwsClient({
    accessKeyId: Credentials.AccessKeyId,
    secretAccessKey: Credentials.SecretKey,
    sessionToken: Credentials.SessionToken,
    service: "execute-api",
    region: config.region,
  });
  const expires = new Date(Credentials.Expiration * 1000);
  return { username, expires, call: (method, path, body) => call(client, config.apiUrl, method, path, body) };
}

/// One call to the command API: its JSON answer, or an Error carrying the API's one-line reason.
async function call(client, apiUrl, method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await client.fetch(`${apiUrl.replace(/\/$/, "")}${path}`, init);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(data.message || `the command API answered ${response.status}`);
    error.status = response.status;
    error.missing = data.missing;
    throw error;
  }
  return data;
}
