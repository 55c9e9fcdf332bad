using System.Globalization;
using System.Text;
using Paxos.Storage;
using Paxos.Transport;

namespace Paxos.Tests.Hosting;

/// <summary><see cref="PaxosNode.ReadAsync"/> on a cluster of nodes on a fake clock.</summary>
public sealed class NodeReadTests
{
    private static long LastSequence(ReadOnlyMemory<byte> answer) => long.Parse(Encoding.UTF8.GetString(answer.Span), CultureInfo.InvariantCulture);

    private static long Slot(ReadOnlyMemory<byte> reply) => long.Parse(Encoding.UTF8.GetString(reply.Span).Split(':')[0], CultureInfo.InvariantCulture);

    /// <summary>Completes <paramref name="task"/> by ticking the cluster's clock.</summary>
    private static async Task<T> Ticked<T>(NodeCluster cluster, Task<T> task)
    {
        await cluster.TickUntilAsync(() => task.IsCompleted, "the read or submission to complete");
        return await task;
    }

    [Test]
    public async Task Reads_at_the_leader_and_at_a_follower_see_the_clients_own_writes()
    {
        await using var cluster = new NodeCluster(3);
        await cluster.StartAsync();
        var leader = await cluster.LeaderAsync();
        var follower = cluster.Nodes.First(n => n != leader);

        for (var ts = 1; ts <= 5; ts++)
        {
            var writer = ts % 2 == 0 ? leader : follower;
            var slot = Slot(await Ticked(cluster, writer.SubmitAsync(new ClientUpdate(new ClientId(1), ts, new byte[] { (byte)ts }))));

            // Read-your-writes, at both: the read began after the reply, so it must reflect that slot.
            LastSequence(await Ticked(cluster, leader.ReadAsync("k"u8.ToArray()))).Should().BeGreaterThanOrEqualTo(slot);
            LastSequence(await Ticked(cluster, follower.ReadAsync("k"u8.ToArray()))).Should().BeGreaterThanOrEqualTo(slot);
        }
    }

    [Test]
    public async Task A_read_fails_with_a_reason()
    {
        await using var cluster = new NodeCluster(3);
        await cluster.StartAsync();
        var leader = await cluster.LeaderAsync();

        var thrown = await FluentActions.Awaiting(() => Ticked(cluster, leader.ReadAsync("throw"u8.ToArray())))
            .Should().ThrowAsync<PaxosReadException>();
        thrown.Which.Reason.Should().Be(ReadFailure.ReadFailed);
        thrown.Which.InnerException.Should().BeOfType<InvalidOperationException>();

        await cluster.DisposeAsync();
        var stopped = await FluentActions.Awaiting(() => leader.ReadAsync("k"u8.ToArray())).Should().ThrowAsync<PaxosReadException>();
        stopped.Which.Reason.Should().Be(ReadFailure.Stopped);
    }

    [Test]
    public async Task A_read_without_a_majority_times_out()
    {
        // Two of three nodes stop: the leader can never confirm it still leads, so the read fails after ReadTimeout.
        await using var cluster = new NodeCluster(3, i =>
        {
            var options = NodeCluster.Options(i, 3);
            options.ReadTimeout = TimeSpan.FromMilliseconds(40);
            options.ProgressTimeoutTicks = 5_000;
            options.MaxProgressTimeoutTicks = 10_000;
            return options;
        });
        await cluster.StartAsync();
        var leader = await cluster.LeaderAsync();
        foreach (var node in cluster.Nodes.Where(n => n != leader))
        {
            await node.StopAsync();
        }

        var thrown = await FluentActions.Awaiting(() => Ticked(cluster, leader.ReadAsync("k"u8.ToArray())))
            .Should().ThrowAsync<PaxosReadException>();
        thrown.Which.Reason.Should().Be(ReadFailure.Timeout);
    }

    [Test]
    public async Task An_executor_without_reads_says_so()
    {
        var options = NodeCluster.Options(0, 1);
        var network = new InProcessNetwork(1);
        await using var node = new PaxosNode(options, new WriteOnlyExecutor(), network.CreateTransport(new ReplicaId(0)), new InMemoryReplicaStorage());
        await node.StartAsync();
        var thrown = await FluentActions.Awaiting(() => node.ReadAsync("k"u8.ToArray())).Should().ThrowAsync<PaxosReadException>();
        thrown.Which.Reason.Should().Be(ReadFailure.NotSupported);
    }

    private sealed class WriteOnlyExecutor : IExecutor
    {
        public ReadOnlyMemory<byte> Execute(in OrderedUpdate update) => default;
    }
}
