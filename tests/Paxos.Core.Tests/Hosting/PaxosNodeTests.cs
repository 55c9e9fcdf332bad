using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Paxos.Messages;
using Paxos.Protocol;
using Paxos.Storage;
using Paxos.Transport;

namespace Paxos.Tests.Hosting;

public class PaxosNodeTests
{
    private static PaxosOptions InlineCompletions(PaxosOptions options, bool on)
    {
        options.UnsafePreferInlineCompletions = on;
        return options;
    }

    [Test]
    public async Task Three_nodes_order_updates_submitted_anywhere_and_answer_with_the_executors_reply()
    {
        await using var cluster = new NodeCluster(3);
        await cluster.StartAsync();
        await cluster.LeaderAsync();

        var writers = Enumerable.Range(0, 6).Select(async c =>
        {
            var node = cluster.Nodes[c % 3];
            for (var ts = 1; ts <= 30; ts++)
            {
                var reply = await node.SubmitAsync(new ClientUpdate(new ClientId(c + 1), ts, new byte[] { (byte)ts }));
                Encoding.UTF8.GetString(reply.Span).Should().EndWith($":{c + 1}#{ts}");
            }
        });
        await cluster.TickUntilAsync(Task.WhenAll(writers), "the writers' 180 updates");

        await cluster.TickUntilAsync(() => cluster.Executors.All(e => e.Executed.Count == 180), "every replica to execute all 180 updates");
        var histories = cluster.Executors.Select(e => e.Executed.ToList()).ToList();
        histories[1].Should().Equal(histories[0]);
        histories[2].Should().Equal(histories[0]);
    }

    [Test]
    public async Task A_non_leader_s_Accept_leaves_before_it_executes_the_slots_its_own_acceptance_orders([Values] bool fileLog)
    {
        // In the default mode a non-leader of three holds a quorum with the Proposal and its own durable acceptance,
        // so acknowledging its write orders and executes the slots. Its Accept is what the leader waits for: it must
        // leave once the write is durable, not after the execution (with the file log, from the storage writer's
        // thread; in memory, from the loop).
        var events = new ConcurrentQueue<(int Replica, bool IsAccept, long First, long Last)>();
        var root = Path.Combine(Path.GetTempPath(), "paxos-node-" + Guid.NewGuid().ToString("N"));
        try
        {
            PaxosOptions Options(int i)
            {
                var options = NodeCluster.Options(i, 3);
                options.DataDirectory = fileLog ? Path.Combine(root, $"r{i}") : null;
                options.ProgressTimeoutTicks = 1_000; // 2 s: no view change under a busy machine (one would order
                options.MaxProgressTimeoutTicks = 4_000; // slots through the Prepare phase, without this Accept).
                return options;
            }

            await using var cluster = new NodeCluster(3, Options, storage: fileLog ? _ => null : null, wrapTransport: (i, inner) => new AcceptLoggingTransport(i, inner, events));
            for (var i = 0; i < 3; i++)
            {
                var replica = i;
                cluster.Executors[i].FailWith = update =>
                {
                    events.Enqueue((replica, false, update.Sequence.Value, update.Sequence.Value));
                    return null;
                };
            }

            await cluster.StartAsync();
            var leader = await cluster.LeaderAsync();
            var view = leader.Status.LastInstalled;

            // A replica that started late (its log's first fsync on a busy disk) may still be joining; one that had
            // not joined would learn the slots by catching up, without Accepts of its own.
            await cluster.TickUntilAsync(
                () => cluster.Nodes.All(n => n.Status.LastInstalled == view && n.Status.State is ReplicaState.RegularLeader or ReplicaState.RegularNonLeader),
                "every replica to install the leader's view");
            for (var ts = 1; ts <= 20; ts++)
            {
                await cluster.TickUntilAsync(leader.SubmitAsync(new ClientUpdate(new ClientId(1), ts, new byte[] { (byte)ts })), $"the answer to c1#{ts}");
            }

            await cluster.TickUntilAsync(() => cluster.Executors.All(e => e.Executed.Count == 20), "every replica to execute the 20 updates");
            cluster.Nodes.Should().OnlyContain(n => n.Status.LastInstalled == view, $"the test assumes one view throughout (view {view} at the start; now {string.Join(", ", cluster.Nodes.Select(n => n.Status.ToString()))})");
            var log = events.ToList();
            foreach (var follower in Enumerable.Range(0, 3).Where(i => cluster.Nodes[i] != leader))
            {
                var executed = log.Where(e => e.Replica == follower && !e.IsAccept).ToList();
                executed.Should().HaveCount(20);
                foreach (var execution in executed)
                {
                    var index = log.IndexOf(execution);
                    log.Take(index).Should().Contain(
                        e => e.Replica == follower && e.IsAccept && e.First <= execution.First && execution.First <= e.Last,
                        $"replica {follower} sends its Accept for slot {execution.First} before it executes it");
                }
            }
        }
        finally
        {
            if (Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    [Test]
    public async Task With_inline_completions_a_closed_loop_on_one_replica_runs_to_the_end_in_order()
    {
        // One replica orders at once, so every answer's continuation submits the next update during the delivery,
        // which wakes a turn, whose answer is delivered on the same thread again: the nesting must stay bounded
        // (MaxInlineDeliveryDepth), never overflowing the stack, and every answer must arrive.
        await using var cluster = new NodeCluster(1, i => InlineCompletions(NodeCluster.Options(i, 1), true));
        await cluster.StartAsync();
        var node = await cluster.LeaderAsync();

        const int Updates = 5_000;
        var writers = Enumerable.Range(1, 4).Select(client => Task.Run(async () =>
        {
            for (var ts = 1; ts <= Updates / 4; ts++)
            {
                var reply = await node.SubmitAsync(new ClientUpdate(new ClientId(client), ts, new byte[] { (byte)ts }));
                Encoding.UTF8.GetString(reply.Span).Should().EndWith($":{client}#{ts}");
            }
        }));
        await Task.WhenAll(writers);

        cluster.Executors[0].Executed.Should().HaveCount(Updates);
        cluster.Executors[0].Executed.Select(e => e.Sequence).Should().BeInAscendingOrder().And.OnlyHaveUniqueItems();
    }

    [Test]
    public async Task A_continuation_that_waits_synchronously_for_its_next_submission_still_gets_an_answer([Values] bool inlineCompletions)
    {
        // Blocking in a continuation is what UnsafePreferInlineCompletions forbids, and what the pool delivery
        // discourages; it must still not hang the node: the loop's clock wakes it.
        await using var cluster = new NodeCluster(3, i => InlineCompletions(NodeCluster.Options(i, 3), inlineCompletions));
        await cluster.StartAsync();
        var leader = await cluster.LeaderAsync();

        // The clock stands still until the first answer's continuation has submitted and blocked its thread: a tick
        // turned on the test's thread must not be the turn that delivers that answer, or the test's thread would block.
        Task<ReadOnlyMemory<byte>>? next = null;
        var blocked = leader.SubmitAsync(new ClientUpdate(new ClientId(1), 1, new byte[] { 1 })).ContinueWith(
            _ => (next = leader.SubmitAsync(new ClientUpdate(new ClientId(1), 2, new byte[] { 2 }))).WaitAsync(NodeCluster.Patience).GetAwaiter().GetResult(),
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        await NodeCluster.WaitAsync(() => Volatile.Read(ref next) is not null, "the continuation's submission");

        // Then the clock turns until the node answers that submission. The continuation's thread, woken by the answer,
        // is no work the cluster's settling can see, so its end is awaited in real time.
        await cluster.TickUntilAsync(() => next!.IsCompleted, "the answer the blocked continuation waits for");
        var second = await blocked.WaitAsync(NodeCluster.Patience);

        Encoding.UTF8.GetString(second.Span).Should().EndWith(":1#2");
    }

    [Test]
    public async Task Updates_the_continuations_of_one_delivery_submit_share_one_Proposal_though_another_thread_runs_the_loop_meanwhile()
    {
        // With UnsafePreferInlineCompletions, what the continuations of one batch of answers submit enters the loop
        // together when the delivery ends. A turn that another thread runs meanwhile — here for a peer's message
        // handed over from the thread pool, as a transport's receive thread would — must not take the first of
        // them for a Proposal of its own (on a 64-writer load that split half of the leader's batches in two).
        // The clock stands still after the election: no turn of the clock takes up what the delivery holds back.
        var transports = new CapturingTransport[3];
        await using var cluster = new NodeCluster(3, i => InlineCompletions(NodeCluster.Options(i, 3), on: true), wrapTransport: (i, inner) => transports[i] = new CapturingTransport(inner));
        await cluster.StartAsync();
        var leader = await cluster.LeaderAsync();
        var transport = transports[leader.Id.Value];
        await leader.SubmitAsync(new ClientUpdate(new ClientId(100), 1, new byte[] { 100 })).WaitAsync(NodeCluster.Patience);
        await NodeCluster.WaitAsync(() => transport.LastReceived is not null, "a message to the leader");

        // The leader executes c1#1 only once the continuation below is attached, so that it runs in the delivery.
        using var attached = new ManualResetEventSlim();
        cluster.Executors[leader.Id.Value].FailWith = update =>
        {
            if (update.ClientId.Value == 1)
            {
                attached.Wait(NodeCluster.Patience);
            }

            return null;
        };
        var next = new List<Task<ReadOnlyMemory<byte>>>();
        var first = leader.SubmitAsync(new ClientUpdate(new ClientId(1), 1, new byte[] { 1 }));
        var submitted = first.ContinueWith(
            _ =>
            {
                for (var client = 2; client <= 9; client++)
                {
                    next.Add(leader.SubmitAsync(new ClientUpdate(new ClientId(client), 1, new byte[] { (byte)client })));
                    if (client == 2)
                    {
                        Task.Run(transport.Redeliver).Wait(NodeCluster.Patience); // Another thread's turn, mid-delivery.
                    }
                }
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        attached.Set();
        await submitted.WaitAsync(NodeCluster.Patience);
        await Task.WhenAll(next).WaitAsync(NodeCluster.Patience);

        transport.Proposals.Where(p => p.Updates.Any(u => u.ClientId.Value is >= 2 and <= 9))
            .Select(p => (p.View, p.FirstSequence)).Distinct()
            .Should().ContainSingle("the eight updates submitted during one delivery went out in one Proposal");
    }

    [Test]
    public async Task A_submission_a_blocked_continuation_waits_for_fails_when_the_node_stops([Values] bool inlineCompletions)
    {
        // A continuation that blocks for its own next submission (forbidden with inline completions, but it must not
        // hang anything) and meanwhile stops the node: its submission fails with Stopped once the stop completes —
        // with inline completions it is held back by the delivery the continuation blocks, and the stop fails it (the
        // cluster's clock stands still, so no turn of it takes the submission up first).
        await using var cluster = new NodeCluster(1, i => InlineCompletions(NodeCluster.Options(i, 1), inlineCompletions));
        await cluster.StartAsync();
        var node = await cluster.LeaderAsync();
        Task<ReadOnlyMemory<byte>>? second = null;
        var settled = false;
        var blocked = node.SubmitAsync(new ClientUpdate(new ClientId(1), 1, new byte[] { 1 })).ContinueWith(
            _ =>
            {
                second = node.SubmitAsync(new ClientUpdate(new ClientId(2), 1, new byte[] { 2 }));
                Task.Run(() => node.StopAsync()).Wait(NodeCluster.Patience);
                settled = ((IAsyncResult)second).AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(10));
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        await blocked.WaitAsync(NodeCluster.Patience);

        settled.Should().BeTrue("the stop fails what was submitted before it, held back or not");
        second!.IsCompleted.Should().BeTrue();
        if (!second.IsCompletedSuccessfully)
        {
            ((PaxosSubmitException)second.Exception!.InnerException!).Reason.Should().Be(SubmitFailure.Stopped);
        }
    }

    [Test]
    public async Task Updates_held_back_during_a_delivery_are_bounded_as_the_inbox_is()
    {
        // What one delivery's continuations submit waits outside the inbox until the delivery ends, so it has a
        // bound of its own: MaxInboxMessages, beyond which a submission is refused as the full inbox refuses it.
        PaxosOptions Options(int i)
        {
            var options = InlineCompletions(NodeCluster.Options(i, 3), on: true);
            options.MaxInboxMessages = 16;
            return options;
        }

        await using var cluster = new NodeCluster(3, Options);
        await cluster.StartAsync();
        var leader = await cluster.LeaderAsync();

        using var attached = new ManualResetEventSlim(); // c1#1 executes once the continuation is attached.
        cluster.Executors[leader.Id.Value].FailWith = update => update.ClientId.Value == 1 && !attached.Wait(NodeCluster.Patience) ? new TimeoutException() : null;
        var next = new List<Task<ReadOnlyMemory<byte>>>();
        var submitted = leader.SubmitAsync(new ClientUpdate(new ClientId(1), 1, new byte[] { 1 })).ContinueWith(
            _ => next.AddRange(Enumerable.Range(2, 40).Select(client => leader.SubmitAsync(new ClientUpdate(new ClientId(client), 1, new byte[] { 1 })))),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        attached.Set();
        await submitted.WaitAsync(NodeCluster.Patience);

        next.Where(t => t.IsFaulted).Should().HaveCount(24, "16 were held back; the rest found the bound at once")
            .And.OnlyContain(t => ((PaxosSubmitException)t.Exception!.InnerException!).Reason == SubmitFailure.Overloaded);
        var answered = await Task.WhenAll(next.Where(t => !t.IsFaulted)).WaitAsync(NodeCluster.Patience);
        answered.Should().HaveCount(16);
    }

    [Test]
    public async Task A_resubmitted_update_gets_the_same_reply_and_is_not_executed_again()
    {
        await using var cluster = new NodeCluster(3);
        await cluster.StartAsync();
        await cluster.LeaderAsync();
        var update = new ClientUpdate(new ClientId(9), 1, new byte[] { 1 });

        var first = await cluster.TickUntilAsync(cluster.Nodes[0].SubmitAsync(update), "the first answer");
        var again = await cluster.TickUntilAsync(cluster.Nodes[2].SubmitAsync(update), "the second answer");

        again.ToArray().Should().Equal(first.ToArray());
        await cluster.TickUntilAsync(() => cluster.Executors.All(e => e.Executed.Count(x => x.Client == 9) == 1), "every replica to execute c9#1 once");
    }

    [Test]
    public async Task The_cluster_keeps_ordering_after_the_leader_stops()
    {
        await using var cluster = new NodeCluster(3);
        await cluster.StartAsync();
        var leader = await cluster.LeaderAsync();
        await cluster.TickUntilAsync(leader.SubmitAsync(new ClientUpdate(new ClientId(1), 1, new byte[] { 1 })), "the answer to c1#1");

        await leader.StopAsync();
        var survivor = cluster.Nodes.First(n => n != leader);
        var reply = await cluster.TickUntilAsync(survivor.SubmitAsync(new ClientUpdate(new ClientId(1), 2, new byte[] { 2 })), "the survivors' progress timeout, a new view and the answer to c1#2");

        Encoding.UTF8.GetString(reply.Span).Should().EndWith(":1#2");
        survivor.Status.LastInstalled.Value.Should().BeGreaterThan(1, "a new view was installed");
    }

    [Test]
    public async Task No_message_leaves_before_the_batch_it_belongs_to_is_persisted()
    {
        var persisted = new ConcurrentDictionary<PaxosMessage, bool>(ReferenceEqualityComparer.Instance);
        var violations = new ConcurrentQueue<string>();
        await using var cluster = new NodeCluster(
            3,
            storage: _ => new WatchingStorage(persisted),
            wrapTransport: (_, inner) => new WatchingTransport(inner, persisted, violations));
        await cluster.StartAsync();
        await cluster.LeaderAsync();

        for (var ts = 1; ts <= 20; ts++)
        {
            await cluster.TickUntilAsync(cluster.Nodes[ts % 3].SubmitAsync(new ClientUpdate(new ClientId(1), ts, new byte[] { 1 })), $"the answer to c1#{ts}");
        }

        persisted.Should().NotBeEmpty();
        violations.Should().BeEmpty();
    }

    [Test]
    public async Task A_submission_fails_clearly_when_the_node_is_not_running()
    {
        await using var cluster = new NodeCluster(3);
        var update = new ClientUpdate(new ClientId(1), 1, new byte[] { 1 });

        var beforeStart = () => cluster.Nodes[0].SubmitAsync(update);
        (await beforeStart.Should().ThrowAsync<PaxosSubmitException>()).Which.Reason.Should().Be(SubmitFailure.Stopped);

        await cluster.StartAsync();
        await cluster.Nodes[0].StopAsync();
        var afterStop = () => cluster.Nodes[0].SubmitAsync(update);
        (await afterStop.Should().ThrowAsync<PaxosSubmitException>()).Which.Reason.Should().Be(SubmitFailure.Stopped);
    }

    [Test]
    public async Task A_stop_while_the_node_starts_its_clock_leaves_no_timer_running_and_fails_the_start()
    {
        // The stop runs inside CreateTimer: after StartAsync marked the node running, before it holds the timer —
        // the window in which a stop found no timer to dispose.
        PaxosNode node = null!;
        var clock = new ClockThatStopsTheNode(() => node.StopAsync().GetAwaiter().GetResult());
        node = new PaxosNode(NodeCluster.Options(0, 1), new RecordingExecutor(), new InProcessNetwork(1).CreateTransport(new ReplicaId(0)), timeProvider: clock);
        await using var disposeLast = node;

        var start = () => node.StartAsync();

        await start.Should().ThrowAsync<InvalidOperationException>().WithMessage("The node was stopped while it started.");
        clock.Timer.Should().NotBeNull();
        clock.Timer!.Disposed.Should().BeTrue("a timer left running would tick for ever and keep the stopped node alive");
        var submit = () => node.SubmitAsync(new ClientUpdate(new ClientId(1), 1, new byte[] { 1 }));
        (await submit.Should().ThrowAsync<PaxosSubmitException>()).Which.Reason.Should().Be(SubmitFailure.Stopped);
    }

    [Test]
    public async Task A_waiting_submission_fails_with_Stopped_and_a_leader_hint_when_the_node_stops()
    {
        await using var cluster = new NodeCluster(3);
        await cluster.StartAsync();
        var leader = await cluster.LeaderAsync();
        var follower = cluster.Nodes.First(n => n != leader);
        foreach (var other in cluster.Nodes.Where(n => n != follower))
        {
            cluster.Network.Isolate(other.Id, isolated: true);
        }

        var waiting = follower.SubmitAsync(new ClientUpdate(new ClientId(5), 1, new byte[] { 1 }));
        await follower.StopAsync();

        var exception = (await waiting.Invoking(t => t).Should().ThrowAsync<PaxosSubmitException>()).Which;
        exception.Reason.Should().Be(SubmitFailure.Stopped);
        exception.LeaderHint.Should().NotBeNull();
    }

    [Test]
    public async Task An_oversized_update_is_refused()
    {
        await using var cluster = new NodeCluster(3);
        await cluster.StartAsync();

        var act = () => cluster.Nodes[0].SubmitAsync(new ClientUpdate(new ClientId(1), 1, new byte[5000]));

        (await act.Should().ThrowAsync<PaxosSubmitException>()).Which.Reason.Should().Be(SubmitFailure.UpdateTooLarge);
    }

    [Test]
    public async Task Too_many_pending_updates_make_the_node_refuse_more_as_overloaded()
    {
        await using var cluster = new NodeCluster(3, options: i => NodeCluster.Options(i, 3).WithPending(2));
        await cluster.StartAsync();
        cluster.Network.Isolate(new ReplicaId(0), isolated: true); // No quorum for replica 0: nothing executes.

        _ = cluster.Nodes[0].SubmitAsync(new ClientUpdate(new ClientId(1), 1, new byte[] { 1 }));
        _ = cluster.Nodes[0].SubmitAsync(new ClientUpdate(new ClientId(2), 1, new byte[] { 1 }));
        var third = () => cluster.Nodes[0].SubmitAsync(new ClientUpdate(new ClientId(3), 1, new byte[] { 1 }));

        (await third.Should().ThrowAsync<PaxosSubmitException>()).Which.Reason.Should().Be(SubmitFailure.Overloaded);
    }

    [Test]
    public async Task A_failing_executor_stops_the_node_and_fails_submissions_as_faulted()
    {
        await using var cluster = new NodeCluster(1);
        cluster.Executors[0].FailWith = u => u.Timestamp == 2 ? new InvalidOperationException("boom") : null;
        await cluster.StartAsync();
        await cluster.LeaderAsync();
        await cluster.Nodes[0].SubmitAsync(new ClientUpdate(new ClientId(1), 1, new byte[] { 1 }));

        var failing = () => cluster.Nodes[0].SubmitAsync(new ClientUpdate(new ClientId(1), 2, new byte[] { 1 }));

        (await failing.Should().ThrowAsync<PaxosSubmitException>()).Which.Reason.Should().Be(SubmitFailure.Faulted);
        cluster.Nodes[0].Status.IsFaulted.Should().BeTrue();
        var later = () => cluster.Nodes[0].SubmitAsync(new ClientUpdate(new ClientId(1), 3, new byte[] { 1 }));
        (await later.Should().ThrowAsync<PaxosSubmitException>()).Which.Reason.Should().Be(SubmitFailure.Faulted);
    }

    [Test]
    public async Task A_restarted_node_recovers_from_its_storage_and_replays_into_a_fresh_executor()
    {
        var storage = new InMemoryReplicaStorage();
        var network = new InProcessNetwork(1);
        var first = new PaxosNode(NodeCluster.Options(0, 1), new RecordingExecutor(), network.CreateTransport(new ReplicaId(0)), storage);
        await first.StartAsync();
        for (var ts = 1; ts <= 5; ts++)
        {
            await first.SubmitAsync(new ClientUpdate(new ClientId(1), ts, new byte[] { 1 }));
        }

        await first.DisposeAsync();
        await first.DisposeAsync(); // Idempotent.

        var executor = new RecordingExecutor();
        await using var second = new PaxosNode(NodeCluster.Options(0, 1), executor, network.CreateTransport(new ReplicaId(0)), storage);
        await second.StartAsync();

        executor.Executed.Select(e => e.Timestamp).Should().Equal(1, 2, 3, 4, 5);
        var again = await second.SubmitAsync(new ClientUpdate(new ClientId(1), 5, new byte[] { 1 }));
        Encoding.UTF8.GetString(again.Span).Should().EndWith(":1#5");
        second.Status.LastInstalled.Value.Should().BeGreaterThan(1);
    }

    [Test]
    public async Task Cancelling_stops_waiting_but_not_the_update()
    {
        await using var cluster = new NodeCluster(3);
        await cluster.StartAsync();
        cluster.Network.Isolate(new ReplicaId(0), isolated: true);
        using var cancel = new CancellationTokenSource();

        var waiting = cluster.Nodes[0].SubmitAsync(new ClientUpdate(new ClientId(1), 1, new byte[] { 1 }), cancel.Token);
        await cancel.CancelAsync();

        await waiting.Invoking(t => t).Should().ThrowAsync<OperationCanceledException>();

        // The cancellation answers at once, possibly before the loop took the submission in: wait for it.
        await NodeCluster.WaitAsync(() => cluster.Nodes[0].Status.PendingUpdates == 1, "the update still pending");
    }

    [Test]
    public async Task Cancelled_resubmissions_of_a_pending_update_do_not_stay_in_the_waiting_table()
    {
        await using var cluster = new NodeCluster(3);
        await cluster.StartAsync();
        cluster.Network.Isolate(new ReplicaId(0), isolated: true);
        var node = cluster.Nodes[0];
        var retried = new ClientUpdate(new ClientId(1), 1, new byte[] { 1 });

        // A client that times out and retries, many times over, while the update cannot execute.
        var cancelled = new List<Task>();
        for (var i = 0; i < 100; i++)
        {
            using var cancel = new CancellationTokenSource();
            cancelled.Add(node.SubmitAsync(retried, cancel.Token));
            await cancel.CancelAsync();
        }

        // The loop takes submissions in order: once this one is pending, it has seen every retry before it.
        var last = node.SubmitAsync(new ClientUpdate(new ClientId(2), 1, new byte[] { 1 }));
        await NodeCluster.WaitAsync(() => node.Status.PendingUpdates == 2, "both updates pending");

        cancelled.Should().OnlyContain(t => t.IsCanceled);
        node.WaitingSubmissions.Should().Be(1, "a cancelled submission leaves the table; only the last one waits");
        last.IsCompleted.Should().BeFalse();
    }

    [Test]
    public async Task Submissions_of_one_pending_update_beyond_the_bound_are_refused_as_overloaded()
    {
        await using var cluster = new NodeCluster(3);
        await cluster.StartAsync();
        cluster.Network.Isolate(new ReplicaId(0), isolated: true);
        var node = cluster.Nodes[0];
        var retried = new ClientUpdate(new ClientId(1), 1, new byte[] { 1 });

        var submissions = Enumerable.Range(0, PaxosNode.MaxWaitersPerUpdate + 4).Select(_ => node.SubmitAsync(retried)).ToList();

        // The loop takes submissions in order: once this one is pending, it has seen every retry before it.
        _ = node.SubmitAsync(new ClientUpdate(new ClientId(2), 1, new byte[] { 1 }));
        await NodeCluster.WaitAsync(() => node.Status.PendingUpdates == 2, "both updates pending");

        submissions.Take(PaxosNode.MaxWaitersPerUpdate).Should().OnlyContain(t => !t.IsCompleted, "the first ones wait for the update");
        node.WaitingSubmissions.Should().Be(PaxosNode.MaxWaitersPerUpdate + 1, "the retries within the bound, and the last update");
        foreach (var refused in submissions.Skip(PaxosNode.MaxWaitersPerUpdate))
        {
            await NodeCluster.WaitAsync(() => refused.IsCompleted, "the refusal's delivery"); // Answers are delivered on the pool.
            var reason = (refused.Exception?.InnerException as PaxosSubmitException)?.Reason;
            reason.Should().Be(SubmitFailure.Overloaded);
        }
    }

    [Test]
    public async Task AddPaxos_builds_a_node_from_the_container_and_validates_options()
    {
        var network = new InProcessNetwork(1);
        var services = new ServiceCollection()
            .AddSingleton<IExecutor>(new RecordingExecutor())
            .AddSingleton(network.CreateTransport(new ReplicaId(0)))
            .AddPaxos(o =>
            {
                o.ClusterSize = 1;
                o.TickInterval = TimeSpan.FromMilliseconds(2);
            });
        await using var provider = services.BuildServiceProvider();

        var node = provider.GetRequiredService<PaxosNode>();
        await node.StartAsync();
        var reply = await node.SubmitAsync(new ClientUpdate(new ClientId(1), 1, new byte[] { 1 }));

        Encoding.UTF8.GetString(reply.Span).Should().EndWith(":1#1");
        await node.StopAsync();

        await using var invalid = new ServiceCollection()
            .AddSingleton<IExecutor>(new RecordingExecutor())
            .AddSingleton(new InProcessNetwork(1).CreateTransport(new ReplicaId(0)))
            .AddPaxos(o => o.ClusterSize = 0)
            .BuildServiceProvider();
        var resolve = () => invalid.GetRequiredService<PaxosNode>();
        resolve.Should().Throw<Microsoft.Extensions.Options.OptionsValidationException>().WithMessage("*ClusterSize*");
    }

    private sealed class WatchingStorage(ConcurrentDictionary<PaxosMessage, bool> persisted) : IReplicaStorage
    {
        private readonly InMemoryReplicaStorage _inner = new();

        public ValueTask<PersistentState> LoadAsync(CancellationToken cancellationToken = default) => _inner.LoadAsync(cancellationToken);

        public async ValueTask PersistAsync(OutputBatch batch, CancellationToken cancellationToken = default)
        {
            await _inner.PersistAsync(batch, cancellationToken);
            foreach (var message in batch.Messages)
            {
                persisted[message.Message] = true;
            }
        }
    }

    /// <summary>Logs every Accept it is asked to send, with the replica that sends it.</summary>
    private sealed class AcceptLoggingTransport(int replica, ITransport inner, ConcurrentQueue<(int Replica, bool IsAccept, long First, long Last)> events) : ITransport
    {
        public ValueTask StartAsync(ITransportReceiver receiver, CancellationToken cancellationToken = default) => inner.StartAsync(receiver, cancellationToken);

        public void Send(ReplicaId destination, PaxosMessage message)
        {
            if (message is Accept accept)
            {
                events.Enqueue((replica, true, accept.FirstSequence.Value, accept.LastSequence.Value));
            }

            inner.Send(destination, message);
        }

        public void Flush() => inner.Flush();

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    /// <summary>A transport that says no input waits (<see cref="ITransport.HasPendingInput"/>), as an idle UDP
    /// socket would.</summary>
    /// <summary>A clock whose <see cref="CreateTimer"/> first runs <paramref name="beforeCreating"/>, and whose timer
    /// never fires but says whether it was disposed.</summary>
    private sealed class ClockThatStopsTheNode(Action beforeCreating) : TimeProvider
    {
        public RecordingTimer? Timer { get; private set; }

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            beforeCreating();
            return Timer = new RecordingTimer();
        }
    }

    private sealed class RecordingTimer : ITimer
    {
        public bool Disposed { get; private set; }

        public bool Change(TimeSpan dueTime, TimeSpan period) => !Disposed;

        public void Dispose() => Disposed = true;

        public ValueTask DisposeAsync()
        {
            Disposed = true;
            return ValueTask.CompletedTask;
        }
    }

    internal sealed class IdleTransport(ITransport inner) : ITransport
    {
        public bool HasPendingInput => false;

        public ValueTask StartAsync(ITransportReceiver receiver, CancellationToken cancellationToken = default) => inner.StartAsync(receiver, cancellationToken);

        public void Send(ReplicaId destination, PaxosMessage message) => inner.Send(destination, message);

        public void Flush() => inner.Flush();

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    /// <summary>Records the Proposals a node sends and the last message it received, which <see cref="Redeliver"/>
    /// hands to the node again (a duplicate, as a network may deliver) on the calling thread.</summary>
    private sealed class CapturingTransport(ITransport inner) : ITransport, ITransportReceiver
    {
        private ITransportReceiver? _receiver;

        public ConcurrentQueue<Proposal> Proposals { get; } = new();

        public PaxosMessage? LastReceived { get; private set; }

        public bool HasPendingInput => inner.HasPendingInput;

        public ValueTask StartAsync(ITransportReceiver receiver, CancellationToken cancellationToken = default)
        {
            _receiver = receiver;
            return inner.StartAsync(this, cancellationToken);
        }

        public void Receive(PaxosMessage message)
        {
            LastReceived = message;
            _receiver!.Receive(message);
        }

        public void Redeliver() => _receiver!.Receive(LastReceived!);

        public void Send(ReplicaId destination, PaxosMessage message)
        {
            if (message is Proposal proposal)
            {
                Proposals.Enqueue(proposal);
            }

            inner.Send(destination, message);
        }

        public void Flush() => inner.Flush();

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    private sealed class WatchingTransport(ITransport inner, ConcurrentDictionary<PaxosMessage, bool> persisted, ConcurrentQueue<string> violations) : ITransport
    {
        public ValueTask StartAsync(ITransportReceiver receiver, CancellationToken cancellationToken = default) => inner.StartAsync(receiver, cancellationToken);

        public void Send(ReplicaId destination, PaxosMessage message)
        {
            if (!persisted.ContainsKey(message))
            {
                violations.Enqueue($"{message} left before its batch was persisted");
            }

            inner.Send(destination, message);
        }

        public void Flush() => inner.Flush();

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}

internal static class OptionsExtensions
{
    public static PaxosOptions WithPending(this PaxosOptions options, int maxPending)
    {
        options.MaxPendingUpdates = maxPending;
        return options;
    }
}

public class PaxosNodeDurabilityTests
{
    [Test]
    public async Task A_node_with_a_data_directory_keeps_its_log_there_and_resumes_from_it()
    {
        var directory = Path.Combine(Path.GetTempPath(), "paxos-node-" + Guid.NewGuid().ToString("N"));
        try
        {
            var options = NodeCluster.Options(0, 1);
            options.DataDirectory = directory;
            var network = new InProcessNetwork(1);
            await using (var first = new PaxosNode(options, new RecordingExecutor(), network.CreateTransport(new ReplicaId(0))))
            {
                await first.StartAsync();
                for (var ts = 1; ts <= 3; ts++)
                {
                    await first.SubmitAsync(new ClientUpdate(new ClientId(1), ts, new byte[] { 1 }));
                }

                first.StorageCounters!.Fsyncs.Should().BeGreaterThan(0);
            }

            Directory.GetFiles(directory).Should().Contain(f => Path.GetFileName(f).StartsWith("wal-", StringComparison.Ordinal));
            var executor = new RecordingExecutor();
            await using var second = new PaxosNode(options, executor, network.CreateTransport(new ReplicaId(0)));
            await second.StartAsync();

            executor.Executed.Select(e => e.Timestamp).Should().Equal(1, 2, 3);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    public async Task Under_concurrent_load_on_file_logs_every_answered_update_is_in_every_replica_s_log([Values] bool leaderSendsAccept, [Values] bool inlineCompletions, [Values] bool transportIdle)
    {
        // The file log is written by the node's storage writer thread while the loop goes on (pipelining, group
        // commit across batches): answers, sends and writes interleave, and the logs must still hold everything.
        // With a transport that says no input waits, non-leaders also fsync on their loop's thread whenever the
        // writer is idle, mixing the two paths.
        var root = Path.Combine(Path.GetTempPath(), "paxos-node-" + Guid.NewGuid().ToString("N"));
        const int Writers = 32;
        const int PerWriter = 25;
        try
        {
            PaxosOptions Options(int i)
            {
                var options = NodeCluster.Options(i, 3);
                options.DataDirectory = Path.Combine(root, $"r{i}");
                options.LeaderSendsAccept = leaderSendsAccept;
                options.UnsafePreferInlineCompletions = inlineCompletions;
                return options;
            }

            var answered = new ConcurrentBag<(long Client, long Timestamp, string Reply)>();
            await using (var cluster = new NodeCluster(3, Options, storage: _ => null, wrapTransport: transportIdle ? (_, inner) => new PaxosNodeTests.IdleTransport(inner) : null))
            {
                await cluster.StartAsync();
                var leader = await cluster.LeaderAsync();
                var leaderSyncedBefore = leader.BatchesSyncedOnLoop; // Before it led (elections), it may have.
                var writers = Task.WhenAll(Enumerable.Range(1, Writers).Select(client => Task.Run(async () =>
                {
                    for (var ts = 1; ts <= PerWriter; ts++)
                    {
                        var reply = await leader.SubmitAsync(new ClientUpdate(new ClientId(client), ts, new byte[] { (byte)ts }));
                        answered.Add((client, ts, System.Text.Encoding.UTF8.GetString(reply.Span)));
                    }
                })));
                await cluster.TickUntilAsync(writers, "the writers' answers");

                // Followers learn the last orderings a moment after the leader answers.
                await cluster.TickUntilAsync(() => cluster.Executors.All(e => e.Executed.Count == Writers * PerWriter), "every replica to execute every update");
                cluster.Nodes.Should().OnlyContain(n => n.StorageCounters!.Fsyncs > 0);
                var followers = cluster.Nodes.Where(n => n != leader).ToList();
                if (transportIdle)
                {
                    // Each follower does so only when its writer happens to be idle, which scheduling decides; the two
                    // together always find it idle at some point (every election and every lull).
                    followers.Sum(n => n.BatchesSyncedOnLoop).Should().BePositive("a non-leader with nothing waiting fsyncs on its loop's thread");
                }
                else
                {
                    cluster.Nodes.Should().OnlyContain(n => n.BatchesSyncedOnLoop == 0, "the in-process transport cannot say that no input waits");
                }

                leader.BatchesSyncedOnLoop.Should().Be(leaderSyncedBefore, "a leader's writes stay on its writer's thread");
                cluster.Nodes.Select(n => n.StorageCounters!.BatchesPersisted).Sum().Should().BeGreaterThan(cluster.Nodes.Select(n => n.StorageCounters!.Fsyncs).Sum(),
                    "batches without a sync (ordered slots) and batches that shared an fsync outnumber the fsyncs");
            }

            answered.Should().HaveCount(Writers * PerWriter);
            for (var i = 0; i < 3; i++)
            {
                // Restarted from its log alone, each replica executes every answered update at the sequence answered.
                var executor = new RecordingExecutor();
                var options = Options(i);
                await using var node = new PaxosNode(options, executor, new InProcessNetwork(3).CreateTransport(new ReplicaId(i)));
                await node.StartAsync();
                var executed = executor.Executed.ToDictionary(e => (e.Client, e.Timestamp), e => e.Sequence);
                foreach (var (client, timestamp, reply) in answered)
                {
                    executed.Should().ContainKey((client, timestamp), $"replica {i} must hold c{client}#{timestamp} (answered {reply})");
                    reply.Should().StartWith($"{executed[(client, timestamp)]}:", "the update sits at the sequence its answer named");
                }
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
