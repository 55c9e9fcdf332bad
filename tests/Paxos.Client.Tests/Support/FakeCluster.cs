using System.Text;
using Paxos.Client.Listener;

namespace Paxos.Client.Tests.Support;

/// <summary>
/// An in-memory stand-in for a cluster's replicated state, shared by several <see cref="FakeReplica"/>s: a session
/// table (registration nonce to session id, and per session the last sequence executed and its reply) and a
/// key-value store. It behaves as the replicated session table does: a registration repeated with the same nonce gets
/// the same id; an update repeated with the last sequence is answered from the table without executing; the next
/// sequence executes once; anything else is refused. It counts executions, so tests can check exactly-once.
/// </summary>
internal sealed class FakeCluster
{
    private readonly Lock _lock = new();
    private readonly Dictionary<long, long> _sessionOfNonce = [];
    private readonly Dictionary<long, (long Sequence, byte[] Reply)> _sessions = [];
    private readonly Dictionary<string, string> _store = [];
    private readonly List<(long Session, long Sequence, string Payload)> _executed = [];
    private long _slot;

    public ReplicaId Leader { get; set; } = new(0);

    public int Executions
    {
        get
        {
            lock (_lock)
            {
                return _executed.Count;
            }
        }
    }

    public IReadOnlyList<(long Session, long Sequence, string Payload)> Executed
    {
        get
        {
            lock (_lock)
            {
                return [.. _executed];
            }
        }
    }

    public int Registrations
    {
        get
        {
            lock (_lock)
            {
                return _sessionOfNonce.Count;
            }
        }
    }

    public ClientId Register(long nonce)
    {
        lock (_lock)
        {
            if (!_sessionOfNonce.TryGetValue(nonce, out var session))
            {
                session = (1L << 62) | ++_slot;
                _sessionOfNonce[nonce] = session;
                _sessions[session] = (0, []);
            }

            return new ClientId(session);
        }
    }

    /// <summary>Forgets a session, as expiry does.</summary>
    public void Expire(long session)
    {
        lock (_lock)
        {
            _sessions.Remove(session);
        }
    }

    public byte[] Submit(ClientUpdate update)
    {
        lock (_lock)
        {
            if (!_sessions.TryGetValue(update.ClientId.Value, out var entry))
            {
                throw new PaxosSubmitException(SubmitFailure.SessionExpired, Leader, $"Session {update.ClientId.Value} expired.");
            }

            if (update.Timestamp == entry.Sequence)
            {
                return entry.Reply; // A retry: answered from the table, not executed again.
            }

            if (update.Timestamp != entry.Sequence + 1)
            {
                throw new PaxosSubmitException(SubmitFailure.Stale, Leader, $"Sequence {update.Timestamp} after {entry.Sequence}.");
            }

            var payload = Encoding.UTF8.GetString(update.Payload.Span);
            var reply = Execute(payload);
            _slot++;
            _executed.Add((update.ClientId.Value, update.Timestamp, payload));
            _sessions[update.ClientId.Value] = (update.Timestamp, reply);
            return reply;
        }
    }

    public byte[] Read(ReadOnlySpan<byte> query)
    {
        var text = Encoding.UTF8.GetString(query);
        lock (_lock)
        {
            return text.StartsWith("GET ", StringComparison.Ordinal) && _store.TryGetValue(text[4..], out var value)
                ? Encoding.UTF8.GetBytes(value)
                : [];
        }
    }

    /// <summary>"SET key value" stores; the reply is "OK n" with n the number of executions so far.</summary>
    private byte[] Execute(string payload)
    {
        var parts = payload.Split(' ', 3);
        if (parts is ["SET", var key, var value])
        {
            _store[key] = value;
        }

        return Encoding.UTF8.GetBytes($"OK {_executed.Count + 1}");
    }
}

/// <summary>One replica of a <see cref="FakeCluster"/>, as the listener sees it; with switches for the failures tests
/// need.</summary>
internal sealed class FakeReplica(FakeCluster cluster, int id) : IClientReplica
{
    private int _failAfterExecuting;
    private Action? _afterExecuting;

    public ReplicaId Id { get; } = new(id);

    /// <summary>Refuses everything with <see cref="SubmitFailure.Stopped"/>.</summary>
    public bool IsStopped { get; set; }

    /// <summary>Never answers a submission (the listener's request timeout answers instead).</summary>
    public bool Hangs { get; set; }

    public int Submissions;

    public ReplicaStatus Status => new()
    {
        Id = Id,
        Leader = cluster.Leader,
        State = cluster.Leader == Id ? ReplicaState.RegularLeader : ReplicaState.RegularNonLeader,
    };

    /// <summary>The next <paramref name="count"/> submissions execute and then fail as if the reply were lost.</summary>
    /// <param name="count">How many.</param>
    /// <param name="then">Runs after each such execution, before the failure.</param>
    public void FailAfterExecuting(int count, Action? then = null)
    {
        _afterExecuting = then;
        Interlocked.Exchange(ref _failAfterExecuting, count);
    }

    public Task<ClientId> RegisterSessionAsync(long registrationNonce, CancellationToken cancellationToken) =>
        IsStopped ? Task.FromException<ClientId>(Stopped()) : Task.FromResult(cluster.Register(registrationNonce));

    public async Task<ReadOnlyMemory<byte>> SubmitAsync(ClientUpdate update, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Submissions);
        if (IsStopped)
        {
            throw Stopped();
        }

        if (Hangs)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        var reply = cluster.Submit(update);
        if (Interlocked.Decrement(ref _failAfterExecuting) >= 0)
        {
            _afterExecuting?.Invoke();
            throw new PaxosSubmitException(SubmitFailure.Stopped, cluster.Leader, "Executed, but the answer was lost.");
        }

        return reply;
    }

    public Task<ReadOnlyMemory<byte>> ReadAsync(ReadOnlyMemory<byte> query, CancellationToken cancellationToken) =>
        IsStopped ? Task.FromException<ReadOnlyMemory<byte>>(Stopped()) : Task.FromResult<ReadOnlyMemory<byte>>(cluster.Read(query.Span));

    private PaxosSubmitException Stopped() => new(SubmitFailure.Stopped, cluster.Leader, $"Replica {Id.Value} is stopped.");
}
