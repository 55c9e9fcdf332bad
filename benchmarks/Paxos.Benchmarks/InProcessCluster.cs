using System.Diagnostics;
using Paxos.Messages;
using Paxos.Hosting;
using Paxos.Protocol;
using Paxos.Storage;
using Paxos.Transport;

namespace Paxos.Benchmarks;

/// <summary>
/// A 3-replica cluster in one thread with no network delay, each replica run by the <see cref="ReplicaDriver"/> that
/// <see cref="PaxosNode"/> runs: each replica drains everything waiting in its inbox (peer messages and client
/// submissions), then the driver applies its output batches (group commit) — storage discards, so every batch is
/// durable at once — and their messages land in the peers' inboxes. It measures the protocol's own cost per ordered
/// update: the ceiling that the network and the disk then lower.
/// </summary>
internal sealed class InProcessCluster
{
    private readonly PaxosReplica[] _replicas;
    private readonly ReplicaDriver[] _drivers;
    private readonly Queue<PaxosMessage>[] _inboxes;
    private readonly bool[] _submitted;
    private readonly long[] _clientTimestamps;
    private readonly ReadOnlyMemory<byte> _payload;
    private readonly int _entryReplica;
    private long _replies;
    private long _target;

    public InProcessCluster(int clusterSize, int clients, int payloadBytes, int entryReplica)
    {
        _replicas = new PaxosReplica[clusterSize];
        _drivers = new ReplicaDriver[clusterSize];
        _inboxes = new Queue<PaxosMessage>[clusterSize];
        _submitted = new bool[clusterSize];
        for (var i = 0; i < clusterSize; i++)
        {
            var options = new ProtocolOptions { ReplicaId = i, ClusterSize = clusterSize, MaxPendingUpdates = Math.Max(4096, clients) };
            _replicas[i] = new PaxosReplica(options, new CountingExecutor(), seed: (ulong)i);
            _drivers[i] = new ReplicaDriver(_replicas[i], DiscardingStorage.Instance, new InboxTransport(this), clusterSize, observer: new ReplyCounter(this));
            _inboxes[i] = new Queue<PaxosMessage>();
        }

        _clientTimestamps = new long[clients];
        _payload = new byte[payloadBytes];
        _entryReplica = entryReplica;
    }

    public long Replies => _replies;

    /// <summary>Elects a leader: rounds of ticks and deliveries until replica 1 leads view 1.</summary>
    public void Elect()
    {
        for (var round = 0; round < 1000 && _replicas[1].Status.State != ReplicaState.RegularLeader; round++)
        {
            TickAll();
            Drain();
        }

        if (_replicas[1].Status.State != ReplicaState.RegularLeader)
        {
            throw new InvalidOperationException("No leader was elected.");
        }
    }

    /// <summary>Runs until <paramref name="updates"/> more replies; every client keeps one update outstanding.</summary>
    public void Run(long updates)
    {
        _target = _replies + updates;
        for (var c = 0; c < _clientTimestamps.Length; c++)
        {
            Submit(c);
        }

        for (var rounds = 0; _replies < _target; rounds++)
        {
            Drain();

            // Quiet with updates outstanding means they wait on a timer (say, a forward the full queue
            // refused): let time pass.
            TickAll();
            if (rounds > 1_000_000)
            {
                throw new InvalidOperationException("The cluster stalled.");
            }
        }

        Drain();
    }

    private void TickAll()
    {
        foreach (var driver in _drivers)
        {
            driver.Tick();
            driver.ProcessOutput();
        }
    }

    private void Submit(int client)
    {
        var timestamp = ++_clientTimestamps[client];
        _drivers[_entryReplica].Submit(new ClientUpdate(new ClientId(client + 1), timestamp, _payload));
        _submitted[_entryReplica] = true;
    }

    private void Drain()
    {
        bool busy;
        do
        {
            busy = false;
            for (var i = 0; i < _replicas.Length; i++)
            {
                var inbox = _inboxes[i];
                if (inbox.Count == 0 && !_submitted[i])
                {
                    continue;
                }

                busy = true;
                _submitted[i] = false;
                var driver = _drivers[i];
                while (inbox.TryDequeue(out var message))
                {
                    driver.Step(message);
                }

                driver.ProcessOutput();
            }
        }
        while (busy);
    }

    private void OnReplies(IReadOnlyList<ClientReply> replies)
    {
        for (var i = 0; i < replies.Count; i++)
        {
            // A client submits its next update once it has the reply, until the run has enough.
            if (++_replies <= _target - _clientTimestamps.Length)
            {
                Submit((int)replies[i].ClientId.Value - 1);
            }
        }
    }

    /// <summary>Measures one run: ordered updates per second and bytes allocated per update.</summary>
    public static (double UpdatesPerSecond, double BytesPerUpdate) Measure(int clients, int payloadBytes, long updates, int entryReplica)
    {
        var cluster = new InProcessCluster(3, clients, payloadBytes, entryReplica);
        cluster.Elect();
        cluster.Run(updates / 10); // Warm-up: JIT tiers, collection growth.
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var watch = Stopwatch.StartNew();
        cluster.Run(updates);
        watch.Stop();
        var bytes = GC.GetAllocatedBytesForCurrentThread() - allocated;
        return (updates / watch.Elapsed.TotalSeconds, (double)bytes / updates);
    }

    /// <summary>A disk that keeps nothing: every batch is durable at once.</summary>
    private sealed class DiscardingStorage : IReplicaStorage
    {
        public static readonly DiscardingStorage Instance = new();

        public ValueTask<PersistentState> LoadAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult(PersistentState.Empty);

        public ValueTask PersistAsync(OutputBatch batch, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
    }

    /// <summary>Puts each message in its destination's inbox.</summary>
    private sealed class InboxTransport(InProcessCluster cluster) : ITransport
    {
        public ValueTask StartAsync(ITransportReceiver receiver, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

        public void Send(ReplicaId destination, PaxosMessage message) => cluster._inboxes[destination.Value].Enqueue(message);

        public void Flush()
        {
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private sealed class ReplyCounter(InProcessCluster cluster) : IReplicaDriverObserver
    {
        public void OnReplies(OutputBatch batch) => cluster.OnReplies(batch.Replies);
    }

    private sealed class CountingExecutor : IExecutor
    {
        private static readonly ReadOnlyMemory<byte> Ok = new byte[] { 1 };

        public ReadOnlyMemory<byte> Execute(in OrderedUpdate update) => Ok;
    }
}
