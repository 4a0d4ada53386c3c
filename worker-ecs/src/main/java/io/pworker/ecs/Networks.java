package io.pworker.ecs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.LaunchException;
import java.util.ArrayList;
import java.util.List;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ec2.model.DescribeSubnetsRequest;
import software.amazon.awssdk.services.ec2.model.DescribeVpcsRequest;
import software.amazon.awssdk.services.ec2.model.Ec2Exception;
import software.amazon.awssdk.services.ec2.model.Filter;
import software.amazon.awssdk.services.ec2.model.Subnet;
import software.amazon.awssdk.services.ec2.model.Vpc;

/**
 * The awsvpc network configuration of a task whose definition uses network mode awsvpc (every FARGATE task): all
 * subnets of the default VPC (or of {@code vpc_id}) with a public IP, as Prefect's worker infers it, or a custom
 * configuration whose subnets are checked against its VPC.
 */
final class Networks {

    private Networks() {
    }

    /** Where the network configuration of a RunTask request comes from. */
    enum Source {
        /** The definition does not use awsvpc, or the run request has its own network configuration. */
        NONE,
        /** All subnets of the default VPC, or of {@code vpc_id}: known only from EC2 at launch. */
        INFERRED,
        /** The job's {@code network_configuration}, once its subnets are checked against {@code vpc_id}. */
        CONFIGURED
    }

    static Source needed(EcsJobConfiguration c, JsonNode taskDefinition) {
        if (!"awsvpc".equals(taskDefinition.path("networkMode").asText())
                || c.taskRunRequest().hasNonNull("networkConfiguration")) {
            return Source.NONE;
        }
        return Values.dropEmpty(c.networkConfiguration()).isEmpty() ? Source.INFERRED : Source.CONFIGURED;
    }

    /** {@code {"awsvpcConfiguration": {"subnets": [...], "assignPublicIp": "ENABLED", "securityGroups": []}}} */
    static ObjectNode infer(Ec2Client ec2, String vpcId) throws LaunchException {
        String vpc = vpc(ec2, vpcId);
        List<String> subnets = subnets(ec2, vpc, vpcId);
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        ObjectNode awsvpc = out.putObject("awsvpcConfiguration");
        subnets.forEach(awsvpc.putArray("subnets")::add);
        awsvpc.put("assignPublicIp", "ENABLED");
        awsvpc.putArray("securityGroups");
        return out;
    }

    /** The given awsvpcConfiguration, once its subnets are known to belong to {@code vpcId}. */
    static ObjectNode custom(Ec2Client ec2, String vpcId, ObjectNode awsvpcConfiguration) throws LaunchException {
        List<String> known = subnets(ec2, vpc(ec2, vpcId), vpcId);
        List<String> foreign = new ArrayList<>();
        for (JsonNode s : awsvpcConfiguration.path("subnets")) {
            if (!known.contains(s.asText())) {
                foreign.add(s.asText());
            }
        }
        if (!foreign.isEmpty()) {
            throw new LaunchException("invalid job configuration 'network_configuration': subnets " + foreign
                    + " are not in VPC " + vpcId);
        }
        return configured(awsvpcConfiguration);
    }

    /** {@code {"awsvpcConfiguration": <the job's network_configuration>}}, unchecked. */
    static ObjectNode configured(ObjectNode awsvpcConfiguration) {
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        out.set("awsvpcConfiguration", awsvpcConfiguration.deepCopy());
        return out;
    }

    private static String vpc(Ec2Client ec2, String vpcId) throws LaunchException {
        DescribeVpcsRequest request = vpcId == null
                ? DescribeVpcsRequest.builder().filters(Filter.builder().name("isDefault").values("true").build()).build()
                : DescribeVpcsRequest.builder().vpcIds(vpcId).build();
        List<Vpc> vpcs;
        try {
            vpcs = ec2.describeVpcs(request).vpcs();
        } catch (Ec2Exception e) {
            if (e.awsErrorDetails() == null || !"InvalidVpcID.NotFound".equals(e.awsErrorDetails().errorCode())) {
                throw e;
            }
            vpcs = List.of();
        }
        if (vpcs.isEmpty()) {
            throw new LaunchException(vpcId == null
                    ? "the region has no default VPC, so the task's network cannot be inferred; set 'vpc_id' or "
                            + "'network_configuration'"
                    : "VPC " + vpcId + " (from 'vpc_id') does not exist in this region");
        }
        return vpcs.getFirst().vpcId();
    }

    private static List<String> subnets(Ec2Client ec2, String vpc, String configured) throws LaunchException {
        List<String> ids = new ArrayList<>();
        ec2.describeSubnetsPaginator(DescribeSubnetsRequest.builder()
                        .filters(Filter.builder().name("vpc-id").values(vpc).build()).build())
                .subnets().stream().map(Subnet::subnetId).forEach(ids::add);
        if (ids.isEmpty()) {
            throw new LaunchException((configured == null ? "the default VPC " + vpc : "VPC " + vpc)
                    + " has no subnets, so the task's network cannot be inferred");
        }
        return ids;
    }
}
