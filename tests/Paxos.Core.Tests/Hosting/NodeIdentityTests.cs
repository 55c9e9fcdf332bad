using Microsoft.Extensions.Options;
using Paxos.Messages;
using Paxos.Transport;

namespace Paxos.Tests.Hosting;

/// <summary>A node refuses, when it is built, a transport that says it was built for another replica or cluster,
/// whatever built the two (not only the DI extensions), and names both values.</summary>
public class NodeIdentityTests
{
    [Test]
    public async Task A_node_refuses_an_in_process_network_of_another_size()
    {
        var network = new InProcessNetwork(3);
        await using var transport = network.CreateTransport(new ReplicaId(0));

        var build = () => new PaxosNode(new PaxosOptions { ReplicaId = 0, ClusterSize = 5 }, new RecordingExecutor(), transport);

        build.Should().Throw<OptionsValidationException>().Which.Message
            .Should().Contain("PaxosOptions.ClusterSize is 5").And.Contain("connects a cluster of 3");
    }

    [Test]
    public async Task A_node_refuses_the_transport_of_another_replica()
    {
        var network = new InProcessNetwork(3);
        await using var transport = network.CreateTransport(new ReplicaId(1));

        var build = () => new PaxosNode(new PaxosOptions { ReplicaId = 0, ClusterSize = 3 }, new RecordingExecutor(), transport);

        build.Should().Throw<OptionsValidationException>().Which.Message
            .Should().Contain("PaxosOptions.ReplicaId is 0").And.Contain("built for replica 1");
    }

    [Test]
    public async Task A_node_refuses_a_transport_of_another_cluster_id_or_smaller_messages()
    {
        await using var transport = new DeclaringTransport(new TransportIdentity(new ReplicaId(0), 3, ClusterId: 9, MaxMessageBytes: 1000));

        var build = () => new PaxosNode(new PaxosOptions { ClusterId = 7, MaxMessageBytes = 1400 }, new RecordingExecutor(), transport);

        var failure = build.Should().Throw<OptionsValidationException>().Which;
        failure.Failures.Should().HaveCount(2);
        failure.Message.Should().Contain("PaxosOptions.ClusterId is 7").And.Contain("frames of cluster 9")
            .And.Contain("PaxosOptions.MaxMessageBytes is 1400").And.Contain("1000 bytes");
    }

    [Test]
    public async Task A_node_takes_a_transport_that_agrees_or_does_not_say()
    {
        var network = new InProcessNetwork(3);
        await using var agreeing = new PaxosNode(new PaxosOptions { ReplicaId = 2, ClusterSize = 3 }, new RecordingExecutor(), network.CreateTransport(new ReplicaId(2)));
        await using var silent = new PaxosNode(new PaxosOptions { ClusterId = 5 }, new RecordingExecutor(), new DeclaringTransport(null));
        await using var noClusterId = new PaxosNode(new PaxosOptions { ClusterId = 5 }, new RecordingExecutor(), new DeclaringTransport(new TransportIdentity(new ReplicaId(0), 3)));

        network.ClusterSize.Should().Be(3);
        network.CreateTransport(new ReplicaId(1)).Identity.Should().Be(new TransportIdentity(new ReplicaId(1), 3));
    }

    /// <summary>A transport that moves nothing and declares the identity it is given.</summary>
    private sealed class DeclaringTransport(TransportIdentity? identity) : ITransport
    {
        public TransportIdentity? Identity => identity;

        public ValueTask StartAsync(ITransportReceiver receiver, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

        public void Send(ReplicaId destination, PaxosMessage message)
        {
        }

        public void Flush()
        {
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
