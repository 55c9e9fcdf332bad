using System.Collections.Concurrent;
using Paxos.Messages;
using Paxos.Protocol;
using Paxos.Testing;
using Paxos.Transport;

namespace Paxos.Tests.Hosting;

/// <summary>
/// The node's clock: the replica's ticks come from the time provider's clock, handed over before the node takes any
/// input, so that after a stall the replica promises and serves by the time now (docs/architecture.md, "The node's
/// loop"; docs/protocol-notes.md, "Read leases").
/// </summary>
public class NodeClockTests
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(10);

    [Test]
    public async Task A_follower_stalled_past_its_clock_promises_only_what_its_timer_has_left()
    {
        // The clock's timer never fires here: the clock moves on while the node does nothing, as in a stall. A
        // confirmation request then wakes it; its promise must count the ticks that passed. (Found in review: the loop
        // took inputs before the ticks it owed, and promised from a stale timer.)
        var clock = new ManualClock();
        var transport = new ScriptedTransport();
        var options = new PaxosOptions { ReplicaId = 0, ClusterSize = 3, ReadLeases = true, TickInterval = Tick };
        await using var node = new PaxosNode(options, new RecordingExecutor(), transport, timeProvider: clock, seed: 1);
        await node.StartAsync();

        // The vote held after starting runs out; any input wakes the node (this one it drops), and it votes.
        clock.Advance(Tick * options.ProgressTimeoutTicks);
        transport.Deliver(new ReadConfirmRequest(new ReplicaId(1), new ViewNumber(1), 0));
        await Eventually.UntilAsync(() => transport.Sent.OfType<ViewChange>().Any(), "the follower to cast its held vote");

        transport.Deliver(new Prepare(new ReplicaId(1), new ViewNumber(1), SequenceNumber.None));
        await Eventually.UntilAsync(() => node.Status.State == ReplicaState.RegularNonLeader, "the follower to install view 1");

        clock.Advance(Tick * 30);
        transport.Deliver(new ReadConfirmRequest(new ReplicaId(1), new ViewNumber(1), 1));
        await Eventually.UntilAsync(() => transport.Sent.OfType<ReadConfirm>().Any(), "the follower to answer");

        transport.Sent.OfType<ReadConfirm>().Single().LeaseTicks.Should().Be(options.ProgressTimeoutTicks - 30 - 1,
            "its Progress_Timer, started at the install, has 70 ticks left, and the next may come at once");
    }

    /// <summary>A clock moved by hand whose timers never fire.</summary>
    private sealed class ManualClock : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Interlocked.Read(ref _ticks);

        public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) => new SilentTimer();

        private sealed class SilentTimer : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) => true;

            public void Dispose()
            {
            }

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }

    /// <summary>A transport the test speaks through: it delivers what the test gives it and keeps what the node sends.</summary>
    private sealed class ScriptedTransport : ITransport
    {
        private ITransportReceiver? _receiver;

        public ConcurrentQueue<PaxosMessage> Sent { get; } = new();

        public ValueTask StartAsync(ITransportReceiver receiver, CancellationToken cancellationToken = default)
        {
            _receiver = receiver;
            return ValueTask.CompletedTask;
        }

        public void Deliver(PaxosMessage message) => _receiver!.Receive(message);

        public void Send(ReplicaId destination, PaxosMessage message) => Sent.Enqueue(message);

        public void Flush()
        {
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
