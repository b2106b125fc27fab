/**
 * The librdkafka client configuration of a resolved context: its security
 * properties (servers, protocol, SASL, TLS, client id) over its tuning, and
 * the names of the properties that hold a secret, for drivers to redact
 * librdkafka's messages with.
 *
 * @module
 */
import type { ClientConfig, ConsumerConfig } from "./driver.ts";
import type { NormalizedSecurityContext, ResolvedSecurityContext } from "./security_context.ts";

/** librdkafka properties for the security part of a context, with the names of the secret ones. */
function securityProperties(ctx: NormalizedSecurityContext): { props: Record<string, string>; secrets: string[] } {
  const props: Record<string, string> = {
    "bootstrap.servers": ctx.bootstrapServers.join(","),
    "security.protocol": ctx.securityProtocol.toLowerCase(),
    "client.id": ctx.clientId,
  };
  const secrets: string[] = [];
  if (ctx.sasl?.mechanism === "OAUTHBEARER") {
    Object.assign(props, {
      "sasl.mechanisms": "OAUTHBEARER",
      "sasl.oauthbearer.method": "oidc",
      "sasl.oauthbearer.client.id": ctx.sasl.clientId,
      "sasl.oauthbearer.client.secret": ctx.sasl.clientSecret,
      "sasl.oauthbearer.token.endpoint.url": ctx.sasl.tokenEndpointUrl,
    });
    if (ctx.sasl.scope) props["sasl.oauthbearer.scope"] = ctx.sasl.scope;
    secrets.push("sasl.oauthbearer.client.secret");
  } else if (ctx.sasl) {
    Object.assign(props, {
      "sasl.mechanisms": ctx.sasl.mechanism,
      "sasl.username": ctx.sasl.username,
      "sasl.password": ctx.sasl.password,
    });
    secrets.push("sasl.password");
  }
  if (ctx.tls) {
    if (ctx.tls.ca) props["ssl.ca.pem"] = ctx.tls.ca;
    if (ctx.tls.cert) props["ssl.certificate.pem"] = ctx.tls.cert;
    if (ctx.tls.key) props["ssl.key.pem"] = ctx.tls.key;
    if (ctx.tls.keyPassword) props["ssl.key.password"] = ctx.tls.keyPassword;
    props["ssl.endpoint.identification.algorithm"] = ctx.tls.verifyHostname ? "https" : "none";
    secrets.push("ssl.key.pem", "ssl.key.password");
  }
  return { props, secrets };
}

/** The producer client configuration of a resolved context, with its tuning (default: the context's own, over kshare's defaults). */
export function producerConfig(
  resolved: ResolvedSecurityContext,
  tuning: Readonly<Record<string, string>> = resolved.context.producer,
): ClientConfig {
  const { props, secrets } = securityProperties(resolved.context);
  return {
    properties: { ...tuning, ...props },
    label: resolved.description,
    secretProperties: secrets,
  };
}

/** The consumer client configuration of a resolved context for one group, with its tuning (default as for {@link producerConfig}). */
export function consumerConfig(
  resolved: ResolvedSecurityContext,
  groupId: string,
  tuning: Readonly<Record<string, string>> = resolved.context.consumer,
): ConsumerConfig {
  const { props, secrets } = securityProperties(resolved.context);
  return {
    properties: {
      ...tuning,
      ...props,
      "group.id": groupId,
      "enable.auto.offset.store": "false",
    },
    label: `${resolved.description} group=${groupId}`,
    secretProperties: secrets,
    groupId,
  };
}
