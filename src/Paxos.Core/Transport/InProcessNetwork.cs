using Paxos.Messages;

namespace Paxos.Transport;

/// <summary>
/// Connects the nodes of a cluster that live in one process: a message sent through one node's
/// transport is handed straight to the receiving node's inbox. Links can be cut to model partitions.
/// Useful for tests, samples and benchmarks; a real cluster uses a network transport.
/// </summary>
public sealed class InProcessNetwork
{
    private readonly Lock _lock = new();
    private readonly InProcessTransport?[] _transports;
    private readonly bool[,] _cut;

    /// <summary>Creates a network for replicas 0 to <paramref name="clusterSize"/> − 1.</summary>
    /// <param name="clusterSize">The number of replicas, from 1 to 64.</param>
    public InProcessNetwork(int clusterSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(clusterSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(clusterSize, ReplicaId.MaxClusterSize);
        _transports = new InProcessTransport?[clusterSize];
        _cut = new bool[clusterSize, clusterSize];
    }

    /// <summary>Messages dropped because a link was cut or the receiver was not started.</summary>
    public long MessagesDropped => Interlocked.Read(ref _dropped);

    private long _dropped;

    /// <summary>The number of replicas the network connects.</summary>
    public int ClusterSize => _transports.Length;

    /// <summary>Creates the transport of replica <paramref name="replica"/>; each replica gets one. Its
    /// <see cref="ITransport.Identity"/> names the replica and the network's size, so a <see cref="PaxosNode"/> with
    /// another replica id or cluster size refuses it.</summary>
    public ITransport CreateTransport(ReplicaId replica)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(replica.Value);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(replica.Value, _transports.Length);
        lock (_lock)
        {
            if (_transports[replica.Value] is { IsDisposed: false })
            {
                throw new InvalidOperationException($"Replica {replica} already has a live transport on this network.");
            }

            var transport = new InProcessTransport(this, replica);
            _transports[replica.Value] = transport;
            return transport;
        }
    }

    /// <summary>Cuts (or restores) the link from <paramref name="from"/> to <paramref name="to"/>, one way.</summary>
    public void SetLink(ReplicaId from, ReplicaId to, bool connected)
    {
        lock (_lock)
        {
            _cut[from.Value, to.Value] = !connected;
        }
    }

    /// <summary>Cuts (or restores) every link to and from <paramref name="replica"/>.</summary>
    public void Isolate(ReplicaId replica, bool isolated)
    {
        lock (_lock)
        {
            for (var other = 0; other < _transports.Length; other++)
            {
                _cut[replica.Value, other] = isolated;
                _cut[other, replica.Value] = isolated;
            }
        }
    }

    private void Deliver(ReplicaId from, ReplicaId to, PaxosMessage message)
    {
        InProcessTransport? target;
        lock (_lock)
        {
            target = to.Value >= 0 && to.Value < _transports.Length && !_cut[from.Value, to.Value] ? _transports[to.Value] : null;
        }

        if (target is null || !target.TryReceive(message))
        {
            Interlocked.Increment(ref _dropped);
        }
    }

    private sealed class InProcessTransport(InProcessNetwork network, ReplicaId self) : ITransport
    {
        private volatile ITransportReceiver? _receiver;

        public bool IsDisposed { get; private set; }

        public TransportIdentity Identity => new(self, network._transports.Length);

        public ValueTask StartAsync(ITransportReceiver receiver, CancellationToken cancellationToken = default)
        {
            ArgumentNullException.ThrowIfNull(receiver);
            ObjectDisposedException.ThrowIf(IsDisposed, this);
            _receiver = receiver;
            return ValueTask.CompletedTask;
        }

        public void Send(ReplicaId destination, PaxosMessage message)
        {
            if (!IsDisposed)
            {
                network.Deliver(self, destination, message);
            }
        }

        public void Flush()
        {
        }

        public bool TryReceive(PaxosMessage message)
        {
            var receiver = _receiver;
            if (receiver is null || IsDisposed)
            {
                return false;
            }

            receiver.Receive(message);
            return true;
        }

        public ValueTask DisposeAsync()
        {
            IsDisposed = true;
            _receiver = null;
            return ValueTask.CompletedTask;
        }
    }
}
