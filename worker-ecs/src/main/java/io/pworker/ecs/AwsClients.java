package io.pworker.ecs;

import io.pworker.spi.LaunchException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.AwsSessionCredentials;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.ProfileCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.client.config.ClientOverrideConfiguration;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.retry.RetryMode;
import software.amazon.awssdk.http.SdkHttpClient;
import software.amazon.awssdk.profiles.ProfileFile;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.regions.providers.DefaultAwsRegionProviderChain;
import software.amazon.awssdk.services.cloudwatchlogs.CloudWatchLogsClient;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ecs.EcsClient;
import software.amazon.awssdk.services.sts.StsClient;
import software.amazon.awssdk.services.sts.auth.StsAssumeRoleCredentialsProvider;
import software.amazon.awssdk.services.sts.model.AssumeRoleRequest;
import software.amazon.awssdk.utils.SdkAutoCloseable;

/**
 * The AWS clients one set of {@link AwsSettings} needs: ECS for tasks, EC2 for the default VPC's subnets, CloudWatch
 * Logs (per region, made on first use) for the log of a task that failed. All share one HTTP client. Retries,
 * backoff and credential refresh are the SDK's (standard retry mode: 3 attempts with jittered exponential backoff
 * on throttling, 5xx and I/O errors); every call is bounded by an overall timeout.
 */
final class AwsClients implements AutoCloseable {

    static final Duration CALL_TIMEOUT = Duration.ofMinutes(2);
    private static final Duration ATTEMPT_TIMEOUT = Duration.ofSeconds(30);

    final EcsClient ecs;
    final Ec2Client ec2;
    final Region region;
    private final SdkHttpClient http;
    private final AwsCredentialsProvider credentials;
    private final StsClient sts;
    private final Function<Region, CloudWatchLogsClient> newLogsClient;
    private final Map<Region, CloudWatchLogsClient> logs = new ConcurrentHashMap<>();

    private AwsClients(EcsClient ecs, Ec2Client ec2, Region region, SdkHttpClient http,
            AwsCredentialsProvider credentials, StsClient sts, Function<Region, CloudWatchLogsClient> newLogsClient) {
        this.ecs = ecs;
        this.ec2 = ec2;
        this.region = region;
        this.http = http;
        this.credentials = credentials;
        this.sts = sts;
        this.newLogsClient = newLogsClient;
    }

    /** The CloudWatch Logs client of {@code region} (a task's awslogs-region), or of the clients' region if null. */
    CloudWatchLogsClient logs(String region) {
        return logs.computeIfAbsent(region == null || region.isBlank() ? this.region : Region.of(region),
                newLogsClient);
    }

    /**
     * @param environment the worker's environment, for {@code AWS_REGION} / {@code AWS_DEFAULT_REGION}
     * @throws LaunchException when no region can be found, the endpoint URL is not a URL or the CA bundle is not
     *     a readable PEM file
     */
    static AwsClients connect(AwsSettings settings, Map<String, String> environment) throws LaunchException {
        Region region = region(settings, environment);
        URI endpoint = null;
        if (settings.endpointUrl() != null) {
            try {
                endpoint = URI.create(settings.endpointUrl());
            } catch (IllegalArgumentException e) {
                throw new LaunchException("invalid aws_credentials.aws_client_parameters.endpoint_url '"
                        + settings.endpointUrl() + "': " + e.getMessage());
            }
            if (endpoint.getScheme() == null || endpoint.getHost() == null) {
                throw new LaunchException("invalid aws_credentials.aws_client_parameters.endpoint_url '"
                        + settings.endpointUrl() + "': expected a URL such as https://ecs.us-east-1.amazonaws.com");
            }
        }
        SdkHttpClient http = AwsHttp.client(settings, ATTEMPT_TIMEOUT);
        ClientOverrideConfiguration override = ClientOverrideConfiguration.builder()
                .apiCallTimeout(CALL_TIMEOUT)
                .apiCallAttemptTimeout(ATTEMPT_TIMEOUT)
                .retryStrategy(RetryMode.STANDARD)
                .build();

        AwsCredentialsProvider base = baseCredentials(settings, environment);
        AwsCredentialsProvider credentials = base;
        StsClient sts = null;
        if (settings.assumeRoleArn() != null) {
            var stsBuilder = StsClient.builder().region(region).credentialsProvider(base).httpClient(http)
                    .overrideConfiguration(override);
            if (endpoint != null) {
                stsBuilder.endpointOverride(endpoint);
            }
            sts = stsBuilder.build();
            credentials = StsAssumeRoleCredentialsProvider.builder().stsClient(sts)
                    .refreshRequest(assumeRole(settings)).build();
        }
        var ecs = EcsClient.builder().region(region).credentialsProvider(credentials).httpClient(http)
                .overrideConfiguration(override);
        var ec2 = Ec2Client.builder().region(region).credentialsProvider(credentials).httpClient(http)
                .overrideConfiguration(override);
        if (endpoint != null) {
            ecs.endpointOverride(endpoint);
            ec2.endpointOverride(endpoint);
        }
        AwsCredentialsProvider signer = credentials;
        URI logsEndpoint = endpoint;
        Function<Region, CloudWatchLogsClient> newLogsClient = r -> {
            var b = CloudWatchLogsClient.builder().region(r).credentialsProvider(signer).httpClient(http)
                    .overrideConfiguration(override);
            if (logsEndpoint != null) {
                b.endpointOverride(logsEndpoint);
            }
            return b.build();
        };
        return new AwsClients(ecs.build(), ec2.build(), region, http, credentials, sts, newLogsClient);
    }

    /** The region the settings or the environment name, or null to ask the SDK's default chain (no network). */
    static String configuredRegion(AwsSettings settings, Map<String, String> environment) {
        for (String candidate : new String[] {settings.region(), environment.get("AWS_REGION"),
                environment.get("AWS_DEFAULT_REGION")}) {
            if (candidate != null && !candidate.isBlank()) {
                return candidate.strip();
            }
        }
        return null;
    }

    private static Region region(AwsSettings settings, Map<String, String> environment) throws LaunchException {
        String configured = configuredRegion(settings, environment);
        if (configured != null) {
            return Region.of(configured);
        }
        try {
            return DefaultAwsRegionProviderChain.builder().build().getRegion();
        } catch (SdkClientException e) {
            throw new LaunchException("no AWS region: set region_name in the aws-credentials block, or AWS_REGION "
                    + "in the worker's environment");
        }
    }

    /**
     * Keys, else the named profile (read from the files the worker's environment names, so that a profile using
     * {@code sso_*} settings goes through the SDK's own SSO provider, which the sso and ssooidc modules bring),
     * else the SDK's default chain.
     */
    static AwsCredentialsProvider baseCredentials(AwsSettings s, Map<String, String> environment) {
        if (s.accessKeyId() != null) {
            return StaticCredentialsProvider.create(s.sessionToken() != null
                    ? AwsSessionCredentials.create(s.accessKeyId(), s.secretAccessKey(), s.sessionToken())
                    : AwsBasicCredentials.create(s.accessKeyId(), s.secretAccessKey()));
        }
        if (s.profileName() != null) {
            return ProfileCredentialsProvider.builder().profileName(s.profileName())
                    .profileFile(profiles(environment)).build();
        }
        return DefaultCredentialsProvider.builder().build();
    }

    /** The shared config and credentials files, where AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE put them. */
    private static ProfileFile profiles(Map<String, String> environment) {
        Path home = Path.of(System.getProperty("user.home"), ".aws");
        ProfileFile.Aggregator all = ProfileFile.aggregator();
        String config = environment.get("AWS_CONFIG_FILE");
        String credentials = environment.get("AWS_SHARED_CREDENTIALS_FILE");
        Path configFile = config != null && !config.isBlank() ? Path.of(config) : home.resolve("config");
        Path credentialsFile = credentials != null && !credentials.isBlank() ? Path.of(credentials)
                : home.resolve("credentials");
        if (Files.isReadable(configFile)) {
            all.addFile(ProfileFile.builder().content(configFile).type(ProfileFile.Type.CONFIGURATION).build());
        }
        if (Files.isReadable(credentialsFile)) {
            all.addFile(ProfileFile.builder().content(credentialsFile).type(ProfileFile.Type.CREDENTIALS).build());
        }
        return all.build();
    }

    private static AssumeRoleRequest assumeRole(AwsSettings s) throws LaunchException {
        Map<String, String> k = s.assumeRole();
        AssumeRoleRequest.Builder r = AssumeRoleRequest.builder().roleArn(s.assumeRoleArn())
                .roleSessionName(k.getOrDefault("RoleSessionName", "pworker"));
        try {
            if (k.containsKey("DurationSeconds")) {
                r.durationSeconds(Integer.parseInt(k.get("DurationSeconds")));
            }
        } catch (NumberFormatException e) {
            throw new LaunchException("invalid aws_credentials.assume_role_kwargs.DurationSeconds '"
                    + k.get("DurationSeconds") + "': expected a number of seconds");
        }
        if (k.containsKey("ExternalId")) {
            r.externalId(k.get("ExternalId"));
        }
        return r.build();
    }

    @Override
    public void close() {
        ecs.close();
        ec2.close();
        logs.values().forEach(CloudWatchLogsClient::close);
        if (credentials instanceof SdkAutoCloseable c) {
            c.close();
        }
        if (sts != null) {
            sts.close();
        }
        http.close();
    }
}
