using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Time.Testing;
using Paxos.Messages;
using Paxos.Storage;
using Paxos.Transport;

namespace Paxos.Tests.Hosting;

/// <summary>Three (or N) real <see cref="PaxosNode"/>s in one process over an <see cref="InProcessNetwork"/>, on one
/// fake clock (<see cref="Clock"/>): it stands still unless a test turns it with <see cref="TickUntilAsync(Func{bool}, string, int)"/>,
/// so elections, retransmissions and progress timeouts happen when the test lets them, never because the machine was
/// slow.</summary>
internal sealed class NodeCluster : IAsyncDisposable
{
    /// <summary>How long, in real time, a test waits for the nodes' threads.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>The most ticks <see cref="TickUntilAsync(Func{bool}, string, int)"/> gives by default: 40 s of the
    /// nodes' time at the tick of <see cref="Options"/>, far more than any election here needs.</summary>
    public const int MaxTicks = 20_000;

    private readonly CountingTransport[] _transports;

    /// <summary>One tick of the fastest node's clock.</summary>
    private readonly TimeSpan _tick;

    /// <param name="storage">Each node's storage; in memory when absent. A null storage lets the node open its own
    /// (the file log in <see cref="PaxosOptions.DataDirectory"/>).</param>
    /// <param name="meterFactory">Gives the nodes their meters; none when null.</param>
    public NodeCluster(
        int size,
        Func<int, PaxosOptions>? options = null,
        Func<int, IReplicaStorage?>? storage = null,
        Func<int, ITransport, ITransport>? wrapTransport = null,
        IMeterFactory? meterFactory = null)
    {
        Network = new InProcessNetwork(size);
        options ??= i => Options(i, size);
        _transports = new CountingTransport[size];
        Executors = new RecordingExecutor[size];
        Storage = new IReplicaStorage?[size];
        Nodes = new PaxosNode[size];
        _tick = TimeSpan.MaxValue;
        for (var i = 0; i < size; i++)
        {
            var nodeOptions = options(i);
            _tick = nodeOptions.TickInterval < _tick ? nodeOptions.TickInterval : _tick;
            Executors[i] = new RecordingExecutor();
            Storage[i] = storage is null ? new InMemoryReplicaStorage() : storage(i);
            var transport = Network.CreateTransport(new ReplicaId(i));
            _transports[i] = new CountingTransport(wrapTransport?.Invoke(i, transport) ?? transport);
            Nodes[i] = new PaxosNode(nodeOptions, Executors[i], _transports[i], Storage[i], timeProvider: Clock, seed: (ulong)i, meterFactory: meterFactory);
        }
    }

    public InProcessNetwork Network { get; }

    public PaxosNode[] Nodes { get; }

    public RecordingExecutor[] Executors { get; }

    public IReplicaStorage?[] Storage { get; }

    /// <summary>The nodes' clock; every node's tick timer runs on it.</summary>
    public FakeTimeProvider Clock { get; } = new();

    public static PaxosOptions Options(int id, int size) => new()
    {
        ReplicaId = id,
        ClusterSize = size,
        TickInterval = TimeSpan.FromMilliseconds(2),
        ProgressTimeoutTicks = 50,
        MaxProgressTimeoutTicks = 400,
        LeaderHeartbeatTicks = 10,
    };

    public async Task StartAsync()
    {
        foreach (var node in Nodes)
        {
            await node.StartAsync();
        }
    }

    /// <summary>Turns the clock until some node leads and every running node has installed its view (one that started
    /// after the others joins through the leader's retransmissions); returns the leader.</summary>
    public async Task<PaxosNode> LeaderAsync()
    {
        PaxosNode? leader = null;
        await TickUntilAsync(
            () => (leader = Nodes.FirstOrDefault(n => n.Status.State == ReplicaState.RegularLeader)) is not null
                && Live.All(i => Nodes[i].Status.LastInstalled == leader.Status.LastInstalled
                    && Nodes[i].Status.State is ReplicaState.RegularLeader or ReplicaState.RegularNonLeader),
            "a leader whose view every running node installed");
        return leader!;
    }

    /// <summary>
    /// Turns <see cref="Clock"/> one tick at a time until <paramref name="condition"/> holds. A tick comes only once
    /// the cluster has settled: <see cref="IsSettled"/> twice in a row, with the thread pool let run in between (the
    /// loops run there, and hand their answers there, so a test's continuation has had its turn). A timeout then
    /// expires because the protocol waited that many ticks, not because a thread was late. Settling sees the pool's
    /// queue and the nodes' loops, no other thread: not the storage writer's, whose fsyncs the nodes of a file log
    /// wait for, so with file logs each tick also waits one tick of real time, as the system clock would; nor one a
    /// test blocked, which the test waits for itself. Fails after <paramref name="maxTicks"/> ticks, or after
    /// <see cref="Patience"/> of real time.
    /// </summary>
    public async Task TickUntilAsync(Func<bool> condition, string what, int maxTicks = MaxTicks)
    {
        var watch = Stopwatch.StartNew();
        var ticks = 0;
        var settledBefore = false;
        var polls = 0;
        while (!condition())
        {
            if (watch.Elapsed > Patience)
            {
                Assert.Fail($"gave up waiting for {what} after {ticks} ticks of the nodes' clock and {Patience.TotalSeconds} s");
            }

            var settled = IsSettled();
            if (settled && settledBefore)
            {
                if (ticks == maxTicks)
                {
                    Assert.Fail($"gave up waiting for {what} after {ticks} ticks of the nodes' clock");
                }

                Clock.Advance(_tick); // Each node's timer fires once, here: a node whose loop is free runs its turn on this thread.
                ticks++;
                settledBefore = false;
                polls = 0;
                if (Nodes.Any(n => n.StorageCounters is not null))
                {
                    await Task.Delay(_tick);
                }

                continue;
            }

            settledBefore = settled;
            if (polls++ < 20)
            {
                await Task.Yield();
            }
            else
            {
                await Task.Delay(1);
            }
        }
    }

    /// <summary>Turns the clock until <paramref name="task"/> completes (see <see cref="TickUntilAsync(Func{bool}, string, int)"/>);
    /// returns its result.</summary>
    public async Task<T> TickUntilAsync<T>(Task<T> task, string what, int maxTicks = MaxTicks)
    {
        await TickUntilAsync(() => task.IsCompleted, what, maxTicks);
        return await task;
    }

    /// <inheritdoc cref="TickUntilAsync{T}(Task{T}, string, int)"/>
    public async Task TickUntilAsync(Task task, string what, int maxTicks = MaxTicks)
    {
        await TickUntilAsync(() => task.IsCompleted, what, maxTicks);
        await task;
    }

    /// <summary>Waits in real time, without turning the clock, for what the nodes' threads do by themselves.</summary>
    public static async Task WaitAsync(Func<bool> condition, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > Patience)
            {
                Assert.Fail($"gave up waiting for {what} after {Patience.TotalSeconds} s");
            }

            await Task.Delay(5);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            await node.DisposeAsync();
        }
    }

    /// <summary>The nodes that still run: not stopped (which disposes the transport) and not faulted.</summary>
    private IEnumerable<int> Live => Enumerable.Range(0, Nodes.Length).Where(i => !_transports[i].IsDisposed && !Nodes[i].Status.IsFaulted);

    /// <summary>Whether nothing is queued on the thread pool, no running node has anything in its inbox, and each one's
    /// replica has stepped every message its transport handed it, with nothing sent meanwhile. A copy of the counters
    /// is taken between two iterations of the loop, so an iteration that stepped a message has also sent what it
    /// made. The cheap looks come first: the copy takes the loop's turn, or waits for the loop to make it.</summary>
    private bool IsSettled()
    {
        if (ThreadPool.PendingWorkItemCount > 0 || Live.Any(i => Nodes[i].InboxDepth > 0))
        {
            return false;
        }

        var received = _transports.Sum(t => t.Received);
        foreach (var i in Live)
        {
            var node = Nodes[i];
            var taken = node.GetCounters().MessagesReceived + node.MessagesDroppedInboxFull;
            if (taken < _transports[i].Received || node.InboxDepth > 0)
            {
                return false;
            }
        }

        return _transports.Sum(t => t.Received) == received;
    }

    /// <summary>Counts the messages handed to the node; the node sits right on it, so the test's own wrappers'
    /// deliveries (a redelivered duplicate) are counted too.</summary>
    private sealed class CountingTransport(ITransport inner) : ITransport, ITransportReceiver
    {
        private ITransportReceiver? _receiver;
        private long _received;

        public long Received => Interlocked.Read(ref _received);

        public bool IsDisposed { get; private set; }

        public bool HasPendingInput => inner.HasPendingInput;

        public TransportIdentity? Identity => inner.Identity;

        public ValueTask StartAsync(ITransportReceiver receiver, CancellationToken cancellationToken = default)
        {
            _receiver = receiver;
            return inner.StartAsync(this, cancellationToken);
        }

        public void Receive(PaxosMessage message)
        {
            Interlocked.Increment(ref _received);
            _receiver!.Receive(message);
        }

        public void Send(ReplicaId destination, PaxosMessage message) => inner.Send(destination, message);

        public void Flush() => inner.Flush();

        public ValueTask DisposeAsync()
        {
            IsDisposed = true;
            return inner.DisposeAsync();
        }
    }
}

/// <summary>Records every update it executes and replies with "sequence:client#timestamp". A read (any query) answers
/// with the sequence number of the last update executed, as text; the query "throw" throws.</summary>
internal sealed class RecordingExecutor : IExecutor, IReadExecutor
{
    private long _lastSequence;

    public ReadOnlyMemory<byte> Read(ReadOnlySpan<byte> query)
    {
        if (query.SequenceEqual("throw"u8))
        {
            throw new InvalidOperationException("the query asked for it");
        }

        return System.Text.Encoding.UTF8.GetBytes(_lastSequence.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    private readonly ConcurrentQueue<(long Sequence, long Client, long Timestamp)> _executed = new();

    public IReadOnlyCollection<(long Sequence, long Client, long Timestamp)> Executed => _executed;

    public Func<OrderedUpdate, Exception?>? FailWith { get; set; }

    public ReadOnlyMemory<byte> Execute(in OrderedUpdate update)
    {
        if (FailWith?.Invoke(update) is { } failure)
        {
            throw failure;
        }

        _executed.Enqueue((update.Sequence.Value, update.ClientId.Value, update.Timestamp));
        _lastSequence = update.Sequence.Value;
        return System.Text.Encoding.UTF8.GetBytes($"{update.Sequence}:{update.ClientId}#{update.Timestamp}");
    }
}
