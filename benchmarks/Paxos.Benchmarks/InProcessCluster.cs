using System.Diagnostics;

namespace Paxos.Benchmarks;

/// <summary>
/// A 3-replica cluster in one thread with no network delay: messages go through one FIFO queue and are
/// delivered at once; storage discards (the durability contract holds trivially). It measures the
/// protocol's own cost per ordered update — the ceiling the network and the disk then lower.
/// </summary>
internal sealed class InProcessCluster
{
    private readonly PaxosReplica[] _replicas;
    private readonly Queue<(int To, PaxosMessage Message)> _network = new();
    private readonly long[] _clientTimestamps;
    private readonly ReadOnlyMemory<byte> _payload;
    private readonly int _entryReplica;
    private long _replies;

    public InProcessCluster(int clusterSize, int clients, int payloadBytes, int entryReplica, PaxosOptions? template = null)
    {
        _replicas = new PaxosReplica[clusterSize];
        for (var i = 0; i < clusterSize; i++)
        {
            var options = template ?? new PaxosOptions();
            options = new PaxosOptions
            {
                ReplicaId = i,
                ClusterSize = clusterSize,
                MaxBatchUpdates = options.MaxBatchUpdates,
                MaxMessageBytes = options.MaxMessageBytes,
                WindowSlots = options.WindowSlots,
                MaxPendingUpdates = Math.Max(options.MaxPendingUpdates, clients),
            };
            _replicas[i] = new PaxosReplica(options, new CountingExecutor(), seed: (ulong)i);
        }

        _clientTimestamps = new long[clients];
        _payload = new byte[payloadBytes];
        _entryReplica = entryReplica;
    }

    public long Replies => _replies;

    /// <summary>Elects a leader: ticks and deliveries until replica 1 leads view 1.</summary>
    public void Elect()
    {
        for (var round = 0; round < 1000 && _replicas[1].Status.State != ReplicaState.RegularLeader; round++)
        {
            foreach (var replica in _replicas)
            {
                replica.Tick();
                Pump(replica);
            }

            Drain();
        }

        if (_replicas[1].Status.State != ReplicaState.RegularLeader)
        {
            throw new InvalidOperationException("no leader");
        }
    }

    /// <summary>Runs until <paramref name="updates"/> more replies; every client keeps one update outstanding.</summary>
    public void Run(long updates)
    {
        var target = _replies + updates;
        for (var c = 0; c < _clientTimestamps.Length; c++)
        {
            Submit(c);
        }

        var ticks = 0L;
        while (_replies < target)
        {
            Drain();

            // Idle means every client's update is waiting on a timer (for example a forward dropped by a
            // full queue): let time pass.
            foreach (var replica in _replicas)
            {
                replica.Tick();
                Pump(replica);
            }

            if (++ticks > 1_000_000)
            {
                throw new InvalidOperationException("stalled");
            }
        }

        Drain();
    }

    private void Submit(int client)
    {
        var timestamp = ++_clientTimestamps[client];
        var replica = _replicas[_entryReplica];
        replica.Submit(new ClientUpdate(new ClientId(client + 1), timestamp, _payload));
        Pump(replica);
    }

    private void Drain()
    {
        while (_network.TryDequeue(out var next))
        {
            var replica = _replicas[next.To];
            replica.Step(next.Message);
            Pump(replica);
        }
    }

    private void Pump(PaxosReplica replica)
    {
        while (true)
        {
            var batch = replica.TakeOutput();
            if (batch.IsEmpty)
            {
                return;
            }

            replica.AcknowledgePersisted(batch.Number);
            var messages = batch.Messages;
            for (var i = 0; i < messages.Count; i++)
            {
                var outbound = messages[i];
                if (!outbound.IsBroadcast)
                {
                    _network.Enqueue((outbound.Destination.Value, outbound.Message));
                    continue;
                }

                for (var peer = 0; peer < _replicas.Length; peer++)
                {
                    if (peer != replica.Id.Value)
                    {
                        _network.Enqueue((peer, outbound.Message));
                    }
                }
            }

            var replies = batch.Replies;
            for (var i = 0; i < replies.Count; i++)
            {
                _replies++;
                Submit((int)replies[i].ClientId.Value - 1);
            }
        }
    }

    /// <summary>Measures one run and prints ordered updates per second and bytes allocated per update.</summary>
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

    private sealed class CountingExecutor : IExecutor
    {
        private static readonly ReadOnlyMemory<byte> Ok = new byte[] { 1 };
        private long _count;

        public ReadOnlyMemory<byte> Execute(in OrderedUpdate update)
        {
            _count++;
            return Ok;
        }
    }
}
