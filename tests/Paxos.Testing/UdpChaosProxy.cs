using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Paxos.Testing;

/// <summary>
/// A seeded userspace UDP proxy that sits between the replicas of a cluster on 127.0.0.1 and loses, duplicates,
/// delays (and so reorders) and partitions their datagrams, per directed link (TESTING.md level 4).
/// </summary>
/// <remarks>
/// <para>The proxy owns one relay socket Rk per replica k. Every replica is configured with peer k's endpoint =
/// Rk (<see cref="EndpointFor"/>) and binds its own real endpoint Pk, which the proxy learns through
/// <see cref="SetReplicaEndpoint"/>. A datagram arriving at Rj from Pi means "i → j": the proxy forwards it out
/// of Ri to Pj, so j sees it come from Ri, which is i's configured endpoint, and the transport's sender check
/// holds.</para>
/// <para>Fault decisions come from one seeded <see cref="ChaosRandom"/> drawn under a lock, so they replay exactly
/// given the same order of arrivals. Delays are served by one scheduler thread from a bounded priority queue.
/// All sockets are bound to 127.0.0.1.</para>
/// </remarks>
public sealed class UdpChaosProxy : IAsyncDisposable
{
    private const int BufferLength = 64 * 1024;
    private const int MaxSchedulerWaitMilliseconds = 50;

    private readonly object _gate = new();
    private readonly Socket[] _relays;
    private readonly IPEndPoint[] _relayEndpoints;
    private readonly SocketAddress?[] _replicaAddresses;
    private readonly LinkFaults[,] _links;
    private readonly ChaosRandom _random;
    private readonly PriorityQueue<Scheduled, (long Due, long Order)> _delayed = new();
    private readonly int _maxDelayedDatagrams;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task[] _receiveLoops;
    private readonly Thread _scheduler;

    private long _order;
    private long _received;
    private long _forwarded;
    private long _lost;
    private long _cutDropped;
    private long _duplicated;
    private long _delayedCount;
    private long _overflowed;
    private long _unrouted;
    private long _sendErrors;
    private int _disposed;

    /// <summary>Binds one relay socket per replica on 127.0.0.1 and starts forwarding.</summary>
    /// <param name="clusterSize">The number of replicas.</param>
    /// <param name="seed">Seeds every fault decision.</param>
    /// <param name="maxDelayedDatagrams">The bound of the delay queue; copies beyond it are dropped and counted.</param>
    public UdpChaosProxy(int clusterSize, ulong seed, int maxDelayedDatagrams = 65_536)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(clusterSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDelayedDatagrams, 1);
        Seed = seed;
        _random = new ChaosRandom(seed);
        _maxDelayedDatagrams = maxDelayedDatagrams;
        _links = new LinkFaults[clusterSize, clusterSize];
        _replicaAddresses = new SocketAddress?[clusterSize];
        _relays = new Socket[clusterSize];
        _relayEndpoints = new IPEndPoint[clusterSize];
        for (var k = 0; k < clusterSize; k++)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReceiveBuffer, 4 * 1024 * 1024);
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.SendBuffer, 4 * 1024 * 1024);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            socket.Blocking = false;
            _relays[k] = socket;
            _relayEndpoints[k] = (IPEndPoint)socket.LocalEndPoint!;
        }

        _receiveLoops = new Task[clusterSize];
        for (var k = 0; k < clusterSize; k++)
        {
            var relay = k;
            _receiveLoops[k] = Task.Run(() => ReceiveLoopAsync(relay));
        }

        _scheduler = new Thread(RunScheduler) { IsBackground = true, Name = "UdpChaosProxy scheduler" };
        _scheduler.Start();
    }

    /// <summary>The seed of the fault decisions.</summary>
    public ulong Seed { get; }

    /// <summary>The number of replicas.</summary>
    public int ClusterSize => _relays.Length;

    /// <summary>A snapshot of the counters.</summary>
    public ChaosCounters Counters => new(
        Interlocked.Read(ref _received),
        Interlocked.Read(ref _forwarded),
        Interlocked.Read(ref _lost),
        Interlocked.Read(ref _cutDropped),
        Interlocked.Read(ref _duplicated),
        Interlocked.Read(ref _delayedCount),
        Interlocked.Read(ref _overflowed),
        Interlocked.Read(ref _unrouted),
        Interlocked.Read(ref _sendErrors));

    /// <summary>The endpoint every replica must be configured with as replica <paramref name="replica"/>'s (Rk).</summary>
    public IPEndPoint EndpointFor(int replica) => _relayEndpoints[replica];

    /// <summary>Tells the proxy where replica <paramref name="replica"/> really listens (Pk). Datagrams for it that
    /// arrive before are dropped as unrouted.</summary>
    public void SetReplicaEndpoint(int replica, IPEndPoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var address = endpoint.Serialize();
        lock (_gate)
        {
            _replicaAddresses[replica] = address;
        }
    }

    /// <summary>Sets the faults of the link from <paramref name="from"/> to <paramref name="to"/>.</summary>
    public void SetLink(int from, int to, LinkFaults faults)
    {
        faults.Validate();
        lock (_gate)
        {
            _links[from, to] = faults;
        }
    }

    /// <summary>Gives every link the same faults (and so clears every cut unless <paramref name="faults"/> cuts).</summary>
    public void SetAll(LinkFaults faults)
    {
        faults.Validate();
        lock (_gate)
        {
            for (var i = 0; i < ClusterSize; i++)
            {
                for (var j = 0; j < ClusterSize; j++)
                {
                    _links[i, j] = faults;
                }
            }
        }
    }

    /// <summary>The faults of the link from <paramref name="from"/> to <paramref name="to"/>.</summary>
    public LinkFaults GetLink(int from, int to)
    {
        lock (_gate)
        {
            return _links[from, to];
        }
    }

    /// <summary>Cuts the link from <paramref name="from"/> to <paramref name="to"/>, and back too when
    /// <paramref name="bothWays"/>; the links' other faults stay.</summary>
    public void Cut(int from, int to, bool bothWays = false)
    {
        lock (_gate)
        {
            _links[from, to] = _links[from, to] with { Cut = true };
            if (bothWays)
            {
                _links[to, from] = _links[to, from] with { Cut = true };
            }
        }
    }

    /// <summary>Cuts every link to and from <paramref name="replica"/>.</summary>
    public void Isolate(int replica)
    {
        for (var other = 0; other < ClusterSize; other++)
        {
            if (other != replica)
            {
                Cut(replica, other, bothWays: true);
            }
        }
    }

    /// <summary>Restores every cut link; loss, duplication and delay stay as they are.</summary>
    public void Heal()
    {
        lock (_gate)
        {
            for (var i = 0; i < ClusterSize; i++)
            {
                for (var j = 0; j < ClusterSize; j++)
                {
                    _links[i, j] = _links[i, j] with { Cut = false };
                }
            }
        }
    }

    /// <summary>Stops the receive loops and the scheduler and closes the sockets (idempotent).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync();
        lock (_gate)
        {
            Monitor.PulseAll(_gate);
        }

        foreach (var relay in _relays)
        {
            relay.Dispose();
        }

        await Task.WhenAll(_receiveLoops);
        _scheduler.Join(TimeSpan.FromSeconds(5));
        lock (_gate)
        {
            while (_delayed.TryDequeue(out var item, out _))
            {
                ArrayPool<byte>.Shared.Return(item.Buffer);
            }
        }

        _stopping.Dispose();
    }

    private async Task ReceiveLoopAsync(int relay)
    {
        var socket = _relays[relay];
        var buffer = new byte[BufferLength];
        var source = new SocketAddress(AddressFamily.InterNetwork);
        var token = _stopping.Token;
        while (!token.IsCancellationRequested)
        {
            int length;
            try
            {
                length = await socket.ReceiveFromAsync(buffer.AsMemory(), SocketFlags.None, source, token);
            }
            catch (Exception) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                continue; // An ICMP error from an earlier send, reported here: not this datagram's business.
            }

            Interlocked.Increment(ref _received);
            Route(relay, buffer.AsSpan(0, length), source);
        }
    }

    /// <summary>Applies link (from → <paramref name="to"/>) to a datagram that arrived at relay <paramref name="to"/>.</summary>
    private void Route(int to, ReadOnlySpan<byte> datagram, SocketAddress source)
    {
        Span<int> delays = stackalloc int[2];
        int copies;
        int from;
        lock (_gate)
        {
            from = FindReplica(source);
            if (from < 0 || from == to || _replicaAddresses[to] is null)
            {
                Interlocked.Increment(ref _unrouted);
                return;
            }

            copies = Decide(_links[from, to], delays);
            for (var copy = 0; copy < copies; copy++)
            {
                if (delays[copy] > 0)
                {
                    Schedule(from, to, datagram, delays[copy]);
                }
            }
        }

        for (var copy = 0; copy < copies; copy++)
        {
            if (delays[copy] == 0)
            {
                Forward(from, to, datagram);
            }
        }
    }

    /// <summary>Draws the fate of one datagram: how many copies go on (0, 1 or 2) and each one's delay. Under the lock.</summary>
    private int Decide(in LinkFaults faults, Span<int> delays)
    {
        if (faults.Cut)
        {
            Interlocked.Increment(ref _cutDropped);
            return 0;
        }

        if (_random.Chance(faults.LossProbability))
        {
            Interlocked.Increment(ref _lost);
            return 0;
        }

        var copies = 1;
        if (_random.Chance(faults.DuplicateProbability))
        {
            Interlocked.Increment(ref _duplicated);
            copies = 2;
        }

        for (var copy = 0; copy < copies; copy++)
        {
            delays[copy] = faults.MaxDelayMicros > 0 ? _random.Between(faults.MinDelayMicros, faults.MaxDelayMicros) : 0;
        }

        return copies;
    }

    private void Schedule(int from, int to, ReadOnlySpan<byte> datagram, int delayMicros)
    {
        if (_delayed.Count >= _maxDelayedDatagrams)
        {
            Interlocked.Increment(ref _overflowed);
            return;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(datagram.Length);
        datagram.CopyTo(buffer);
        var due = Stopwatch.GetTimestamp() + (delayMicros * Stopwatch.Frequency / 1_000_000);
        _delayed.Enqueue(new Scheduled(from, to, buffer, datagram.Length), (due, _order++));
        Interlocked.Increment(ref _delayedCount);
        Monitor.Pulse(_gate);
    }

    private void RunScheduler()
    {
        var token = _stopping.Token;
        while (!token.IsCancellationRequested)
        {
            Scheduled item;
            lock (_gate)
            {
                if (!_delayed.TryPeek(out item, out var key))
                {
                    Monitor.Wait(_gate, MaxSchedulerWaitMilliseconds);
                    continue;
                }

                var waitTicks = key.Due - Stopwatch.GetTimestamp();
                if (waitTicks > 0)
                {
                    // At least a millisecond: a shorter wait would spin on a shared machine.
                    var waitMilliseconds = (int)Math.Clamp((waitTicks * 1000 / Stopwatch.Frequency) + 1, 1, MaxSchedulerWaitMilliseconds);
                    Monitor.Wait(_gate, waitMilliseconds);
                    continue;
                }

                _delayed.Dequeue();
            }

            Forward(item.From, item.To, item.Buffer.AsSpan(0, item.Length));
            ArrayPool<byte>.Shared.Return(item.Buffer);
        }
    }

    private void Forward(int from, int to, ReadOnlySpan<byte> datagram)
    {
        SocketAddress? destination;
        lock (_gate)
        {
            destination = _replicaAddresses[to];
        }

        try
        {
            _relays[from].SendTo(datagram, SocketFlags.None, destination!);
            Interlocked.Increment(ref _forwarded);
        }
        catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
        {
            Interlocked.Increment(ref _sendErrors);
        }
    }

    private int FindReplica(SocketAddress source)
    {
        for (var k = 0; k < _replicaAddresses.Length; k++)
        {
            if (_replicaAddresses[k] is { } address && address.Equals(source))
            {
                return k;
            }
        }

        return -1;
    }

    private readonly record struct Scheduled(int From, int To, byte[] Buffer, int Length);
}
