using System.Reflection;
using Paxos.Protocol;

namespace Paxos.Tests.Hosting;

/// <summary><see cref="PaxosNode.GetCounters"/>: a copy of the replica's counters, of one moment, readable from any
/// thread while the loop writes them.</summary>
public class NodeCountersTests
{
    private static readonly PropertyInfo[] Values = typeof(ReplicaCounters).GetProperties().Where(p => p.PropertyType == typeof(long)).ToArray();

    [Test]
    public async Task Counters_read_while_the_node_runs_are_consistent_copies_that_only_grow()
    {
        await using var cluster = new NodeCluster(3);
        await cluster.StartAsync();
        var leader = await cluster.LeaderAsync();
        var executor = cluster.Executors[Array.IndexOf(cluster.Nodes, leader)];

        using var stop = new CancellationTokenSource();
        var snapshots = 0;
        var reader = Task.Run(() =>
        {
            var previous = leader.GetCounters();
            while (!stop.IsCancellationRequested)
            {
                var executedBefore = executor.Executed.Count;
                var counters = leader.GetCounters();
                var executedAfter = executor.Executed.Count;
                snapshots++;

                // Of one moment: between two iterations of the loop, so the executor had executed exactly as many.
                counters.UpdatesExecuted.Should().BeInRange(executedBefore, executedAfter);
                counters.MessagesDropped.Should().Be(Enum.GetValues<DropReason>().Sum(r => counters.Dropped(r)));
                foreach (var value in Values)
                {
                    ((long)value.GetValue(counters)!).Should().BeGreaterThanOrEqualTo((long)value.GetValue(previous)!, value.Name + " only grows");
                }

                previous = counters;
            }
        });

        var early = leader.GetCounters();
        var earlyValues = Values.Select(v => v.GetValue(early)).ToList();
        var writers = Enumerable.Range(1, 4).Select(async c =>
        {
            for (var ts = 1; ts <= 50; ts++)
            {
                await cluster.Nodes[c % 3].SubmitAsync(new ClientUpdate(new ClientId(c), ts, new byte[] { (byte)ts }));
            }
        });
        await cluster.TickUntilAsync(Task.WhenAll(writers), "the writers' 200 updates");
        await NodeCluster.WaitAsync(() => snapshots > 20, "the reader to take a few copies");
        await stop.CancelAsync();
        await reader;

        Values.Select(v => v.GetValue(early)).Should().Equal(earlyValues, "a copy never changes");
        var final = leader.GetCounters();
        final.UpdatesExecuted.Should().Be(200);
        final.ProposalsSent.Should().BePositive();
        final.MessagesReceived.Should().BeGreaterThan(early.MessagesReceived);
    }

    [Test]
    public async Task Counters_can_be_read_from_the_executor_on_the_loop_s_own_thread()
    {
        await using var cluster = new NodeCluster(1);
        var node = cluster.Nodes[0];
        long? seen = null;
        cluster.Executors[0].FailWith = _ =>
        {
            seen = node.GetCounters().UpdatesExecuted; // Would wait for its own turn for ever if it took the loop.
            return null;
        };
        await cluster.StartAsync();

        await node.SubmitAsync(new ClientUpdate(new ClientId(1), 1, new byte[] { 1 })).WaitAsync(NodeCluster.Patience);

        seen.Should().Be(0, "the executor runs before the replica counts the update");
        node.GetCounters().UpdatesExecuted.Should().Be(1);
    }

    [Test]
    public async Task Counters_are_zero_before_the_start_and_final_after_a_stop()
    {
        await using var cluster = new NodeCluster(1);
        var node = cluster.Nodes[0];
        node.GetCounters().UpdatesExecuted.Should().Be(0);
        await cluster.StartAsync();
        await node.SubmitAsync(new ClientUpdate(new ClientId(1), 1, new byte[] { 1 })).WaitAsync(NodeCluster.Patience);

        await node.StopAsync();

        // A stopped node's loop is never free again; the read must not wait for it.
        var executed = await Task.Run(() => node.GetCounters().UpdatesExecuted).WaitAsync(NodeCluster.Patience);

        executed.Should().Be(1);
    }

    [Test]
    public async Task Counters_of_a_faulted_node_are_read_at_once()
    {
        await using var cluster = new NodeCluster(1);
        var node = cluster.Nodes[0];
        cluster.Executors[0].FailWith = u => u.Timestamp == 2 ? new InvalidOperationException("boom") : null;
        await cluster.StartAsync();
        await node.SubmitAsync(new ClientUpdate(new ClientId(1), 1, new byte[] { 1 })).WaitAsync(NodeCluster.Patience);
        var failing = () => node.SubmitAsync(new ClientUpdate(new ClientId(1), 2, new byte[] { 1 }));
        await failing.Should().ThrowAsync<PaxosSubmitException>();

        // A faulted node keeps its loop for good; the read must not wait for it.
        var executed = await Task.Run(() => node.GetCounters().UpdatesExecuted).WaitAsync(NodeCluster.Patience);

        executed.Should().Be(1);
    }
}
