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
    /// <summary>A cluster of three whose followers stopped, so its leader can never confirm a read; its Progress_Timer
    /// is long enough that it keeps leading through the test.</summary>
    private static async Task<(NodeCluster Cluster, PaxosNode Leader)> LeaderAloneAsync(Action<PaxosOptions>? configure = null)
    {
        var cluster = new NodeCluster(3, i =>
        {
            var options = NodeCluster.Options(i, 3);
            options.ProgressTimeoutTicks = 5_000;
            options.MaxProgressTimeoutTicks = 10_000;
            configure?.Invoke(options);
            return options;
        });
        try
        {
            await cluster.StartAsync();
            var leader = await cluster.LeaderAsync();
            foreach (var node in cluster.Nodes.Where(n => n != leader))
            {
                await node.StopAsync();
            }

            return (cluster, leader);
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

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
        var (cluster, leader) = await LeaderAloneAsync(o => o.ReadTimeout = TimeSpan.FromMilliseconds(40));
        await using var _ = cluster;

        var thrown = await FluentActions.Awaiting(() => Ticked(cluster, leader.ReadAsync("k"u8.ToArray())))
            .Should().ThrowAsync<PaxosReadException>();
        thrown.Which.Reason.Should().Be(ReadFailure.Timeout);
    }

    [Test]
    public async Task A_cancelled_read_stops_waiting_and_the_node_goes_on()
    {
        // The followers stop: the leader cannot confirm the read, so only the cancellation ends it.
        var (cluster, leader) = await LeaderAloneAsync();
        await using var _ = cluster;

        using var cancel = new CancellationTokenSource();
        var read = leader.ReadAsync("k"u8.ToArray(), cancel.Token);
        await cluster.TickUntilAsync(() => leader.GetCounters().ReadsRequested == 1, "the replica to take the read");
        read.IsCompleted.Should().BeFalse();

        await cancel.CancelAsync();
        await FluentActions.Awaiting(() => read).Should().ThrowAsync<OperationCanceledException>();
        read.IsCanceled.Should().BeTrue();

        // Its answer (a timeout, later) finds the task cancelled; a read with a token already cancelled never starts.
        var early = leader.ReadAsync("k"u8.ToArray(), cancel.Token);
        early.IsCanceled.Should().BeTrue();
        leader.Status.IsFaulted.Should().BeFalse();
    }

    [Test]
    public async Task Reads_waiting_when_the_node_stops_fail_as_stopped()
    {
        var (cluster, leader) = await LeaderAloneAsync();
        await using var _ = cluster;

        using var cancel = new CancellationTokenSource();
        var reads = Enumerable.Range(0, 3).Select(i => leader.ReadAsync("k"u8.ToArray(), i == 0 ? cancel.Token : default)).ToArray();
        await cluster.TickUntilAsync(() => leader.GetCounters().ReadsRequested == 3, "the replica to take the reads");
        await leader.StopAsync();

        foreach (var read in reads)
        {
            var thrown = await FluentActions.Awaiting(() => read).Should().ThrowAsync<PaxosReadException>();
            thrown.Which.Reason.Should().Be(ReadFailure.Stopped);
        }
    }

    [Test]
    public async Task Reads_beyond_MaxPendingReads_fail_as_overloaded()
    {
        var (cluster, leader) = await LeaderAloneAsync(o => o.MaxPendingReads = 2);
        await using var _ = cluster;

        var waiting = new[] { leader.ReadAsync("k"u8.ToArray()), leader.ReadAsync("k"u8.ToArray()) };
        await cluster.TickUntilAsync(() => leader.GetCounters().ReadsRequested == 2, "the replica to take the reads");
        var refused = leader.ReadAsync("k"u8.ToArray());
        var thrown = await FluentActions.Awaiting(() => Ticked(cluster, refused)).Should().ThrowAsync<PaxosReadException>();
        thrown.Which.Reason.Should().Be(ReadFailure.Overloaded);
        waiting.Should().OnlyContain(t => !t.IsCompleted);
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task Readers_in_a_closed_loop_are_all_answered_without_the_clock(bool inlineCompletions)
    {
        // Each reader issues its next read from the previous one's continuation, as a load generator does. The clock
        // stands still once a leader is elected, so every read is answered because a post woke the loop, never
        // because a tick did: a lost wake-up hangs a reader and fails the test.
        await using var cluster = new NodeCluster(3, i =>
        {
            var options = NodeCluster.Options(i, 3);
            options.UnsafePreferInlineCompletions = inlineCompletions;
            return options;
        });
        await cluster.StartAsync();
        var leader = await cluster.LeaderAsync();
        var follower = cluster.Nodes.First(n => n != leader);
        const int ReadsPerReader = 200;
        using var cancel = new CancellationTokenSource();
        var readers = Enumerable.Range(0, 32).Select(r => Task.Run(async () =>
        {
            var node = r % 4 == 0 ? follower : leader;
            for (var i = 0; i < ReadsPerReader; i++)
            {
                await node.ReadAsync("k"u8.ToArray(), r % 2 == 0 ? cancel.Token : default);
            }
        })).ToArray();

        await NodeCluster.WaitAsync(() => readers.All(t => t.IsCompleted), "every reader to finish without a tick");
        await Task.WhenAll(readers);
        (leader.GetCounters().ReadsServed + follower.GetCounters().ReadsServed).Should().Be(32 * ReadsPerReader);
    }

    [Test]
    public async Task Readers_racing_a_stop_all_get_an_answer_or_Stopped()
    {
        // Readers keep posting while the leader stops: a read posted as the stop empties the read inbox must still be
        // answered (served before the stop, or failed with Stopped), never left waiting.
        await using var cluster = new NodeCluster(3);
        await cluster.StartAsync();
        var leader = await cluster.LeaderAsync();
        var served = 0L;
        var readers = Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < 100_000; i++)
            {
                try
                {
                    await leader.ReadAsync("k"u8.ToArray());
                    Interlocked.Increment(ref served);
                }
                catch (PaxosReadException exception) when (exception.Reason == ReadFailure.Stopped)
                {
                    return;
                }
            }
        })).ToArray();

        await NodeCluster.WaitAsync(() => Interlocked.Read(ref served) > 1_000 || readers.Any(t => t.IsCompleted), "reads to be served");
        await leader.StopAsync();
        await NodeCluster.WaitAsync(() => readers.All(t => t.IsCompleted), "every reader to get an answer or Stopped");
        await Task.WhenAll(readers);
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
