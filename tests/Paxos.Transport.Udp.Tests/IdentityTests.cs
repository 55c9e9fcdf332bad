using Microsoft.Extensions.Options;
using Paxos.Transport.Udp.Tests.Support;

namespace Paxos.Transport.Udp.Tests;

/// <summary>A node built by hand (no DI) on a UDP transport that describes another replica or cluster refuses to
/// start, so a misconfigured replica can never count majorities its peers do not.</summary>
[TestFixture]
public sealed class IdentityTests
{
    [Test]
    public async Task A_node_of_one_on_a_transport_to_two_peers_is_refused_so_no_second_leader_forms()
    {
        // The split brain this guards against: node 0 built with ClusterSize 1 and a transport naming peers 1 and 2,
        // nodes 1 and 2 with ClusterSize 3. Node 0 was its own majority: it led, and acknowledged writes that the
        // leader of 1 and 2 contradicted.
        var udp = Transport(0);
        await using var transport = new UdpTransport(udp);

        var build = () => new PaxosNode(new PaxosOptions { ReplicaId = 0, ClusterSize = 1, ClusterId = UdpCluster.ClusterId }, new RecordingExecutor(), transport);

        build.Should().Throw<OptionsValidationException>().Which.Message
            .Should().Contain("PaxosOptions.ClusterSize is 1").And.Contain("(UdpTransport) connects a cluster of 3");

        // Nodes 1 and 2, configured alike, are taken.
        for (var id = 1; id <= 2; id++)
        {
            await using var node = new PaxosNode(new PaxosOptions { ReplicaId = id, ClusterSize = 3, ClusterId = UdpCluster.ClusterId }, new RecordingExecutor(), new UdpTransport(Transport(id)));
            node.Id.Should().Be(new ReplicaId(id));
        }
    }

    [Test]
    public async Task A_node_refuses_a_transport_of_another_replica_or_cluster_id()
    {
        await using var transport = new UdpTransport(Transport(1));

        var build = () => new PaxosNode(new PaxosOptions { ReplicaId = 0, ClusterSize = 3, ClusterId = 7 }, new RecordingExecutor(), transport);

        var failure = build.Should().Throw<OptionsValidationException>().Which;
        failure.Message.Should().Contain("PaxosOptions.ReplicaId is 0").And.Contain("built for replica 1")
            .And.Contain("PaxosOptions.ClusterId is 7").And.Contain($"frames of cluster {UdpCluster.ClusterId}");
    }

    [Test]
    public async Task The_transport_declares_its_identity()
    {
        await using var transport = new UdpTransport(Transport(2));

        transport.Identity.Should().Be(new TransportIdentity(new ReplicaId(2), 3, UdpCluster.ClusterId, transport.MaxMessageBytes));
    }

    private static UdpTransportOptions Transport(int replica) =>
        UdpCluster.TransportOptions(replica, 3, key: null, bind: "127.0.0.1:0", peer: k => $"127.0.0.1:{7101 + k}");

    private sealed class RecordingExecutor : IExecutor
    {
        public ReadOnlyMemory<byte> Execute(in OrderedUpdate update) => ReadOnlyMemory<byte>.Empty;
    }
}
