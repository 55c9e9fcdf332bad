namespace Paxos.Protocol;

/// <summary>
/// The client table (G13) with its bound: Last_Executed[] plus the reply of each client's last executed update, for
/// the clients that executed an update within the last <see cref="ProtocolOptions.ClientExpirySlots"/> slots, and the
/// expiry mark that stands in for every client it forgot (docs/protocol-notes.md, "Client table bound and expiry").
/// </summary>
/// <remarks>
/// <para>It is replicated state: it changes only as slots execute, and only as a function of the slot and its update,
/// so every replica — one that replays its log, and later one that installs a snapshot — holds the same table after
/// the same slot. Nothing in it depends on hashing order: <see cref="InExecutionOrder"/> lists the clients by the slot
/// of their last executed update, which is also the order <see cref="Restore"/> takes them back in.</para>
/// <para>One update executes per slot, so at most <see cref="ProtocolOptions.ClientExpirySlots"/> clients executed
/// within the window — twice that with sessions, since a registration records its nonce and its new session at one
/// slot — and that is the table's bound. Memory is one record per remembered client: a busy client that executes a
/// million times in the window still holds one.</para>
/// </remarks>
internal sealed class ClientTable
{
    /// <summary>Each remembered client's node in <see cref="_byLastExecution"/>, which holds its record.</summary>
    private readonly Dictionary<ClientId, LinkedListNode<(ClientId Client, ClientRecord Record)>> _records = [];

    /// <summary>The remembered clients by the slot of their last execution, oldest first. A client that executes again
    /// moves its node to the back (no allocation), so the list holds one node per client — memory follows the number of
    /// clients, not the number of executions in the window — and the clients due to expire are always at the front.</summary>
    private readonly LinkedList<(ClientId Client, ClientRecord Record)> _byLastExecution = new();

    private readonly long _expirySlots;

    /// <summary>Creates an empty table that forgets a client <paramref name="expirySlots"/> slots after its last execution.</summary>
    public ClientTable(long expirySlots)
    {
        _expirySlots = expirySlots;
    }

    /// <summary>How many clients the table remembers.</summary>
    public int Count => _records.Count;

    /// <summary>The expiry mark: the highest timestamp any forgotten client had executed (0 when none was forgotten). An
    /// update of a client not in the table with a timestamp at or below it may be a retry of one that executed, so it
    /// is refused, never executed.</summary>
    public long ExpiredThrough { get; private set; }

    /// <summary>Whether the table remembers <paramref name="client"/>, and its last executed update.</summary>
    public bool TryGet(ClientId client, out ClientRecord record)
    {
        if (_records.TryGetValue(client, out var node))
        {
            record = node.Value.Record;
            return true;
        }

        record = default;
        return false;
    }

    /// <summary>Whether <paramref name="update"/> (or a newer one of its client) executed and the table remembers it.</summary>
    public bool IsExecuted(ClientUpdate update) =>
        TryGet(update.ClientId, out var record) && update.Timestamp <= record.Timestamp;

    /// <summary>Whether <paramref name="update"/> can never execute: its client is not in the table and its timestamp
    /// is at or below the expiry mark. Once true it stays true: the mark only rises, and the client comes back only
    /// with a timestamp above the mark. A session that is not in the table is expired whatever its timestamp, once its
    /// registration slot is at or below <paramref name="executedThrough"/> (it was registered here and forgotten, or
    /// never registered); a registration never is (sessions, and their nonces, are outside the mark's rule).</summary>
    /// <param name="update">The update.</param>
    /// <param name="executedThrough">The last slot this replica executed; at execution, <see cref="long.MaxValue"/>: a
    /// session not in the table is refused then, even one whose id names a slot not reached yet (never registered).</param>
    public bool IsExpired(ClientUpdate update, long executedThrough)
    {
        var client = update.ClientId;
        if (ClientSession.IsSessionId(client))
        {
            return ClientSession.RegisteredAt(client) <= executedThrough && !_records.ContainsKey(client);
        }

        return !ClientSession.IsRegistration(client) && update.Timestamp <= ExpiredThrough && !_records.ContainsKey(client);
    }

    /// <summary>Whether <paramref name="update"/> is a session's update that skips a timestamp: the table holds the
    /// session, and the update is beyond its last executed timestamp plus one. It is refused, not held back: a client
    /// has one outstanding update, so the missing one is lost to it, and executing later ones would break the order it
    /// asked for.</summary>
    public bool IsOutOfOrder(ClientUpdate update) =>
        ClientSession.IsSessionId(update.ClientId)
        && TryGet(update.ClientId, out var record)
        && update.Timestamp > record.Timestamp + 1;

    /// <summary>Records that <paramref name="client"/>'s update <paramref name="timestamp"/> executed at
    /// <paramref name="sequence"/> (slots are recorded in increasing order).</summary>
    public void Record(ClientId client, long timestamp, long sequence, ReadOnlyMemory<byte> result, bool rejected = false)
    {
        var entry = (client, new ClientRecord(timestamp, sequence, result, rejected));
        if (_records.TryGetValue(client, out var node))
        {
            node.Value = entry;
            _byLastExecution.Remove(node);
            _byLastExecution.AddLast(node);
        }
        else
        {
            _records.Add(client, _byLastExecution.AddLast(entry));
        }
    }

    /// <summary>Forgets every client whose last update executed more than <c>ClientExpirySlots</c> slots before
    /// <paramref name="sequence"/>, the slot about to execute, and raises the expiry mark to cover them.</summary>
    /// <returns>How many clients were forgotten.</returns>
    public int ExpireBefore(long sequence)
    {
        var horizon = sequence - _expirySlots;
        var forgotten = 0;
        while (_byLastExecution.First is { } oldest && oldest.Value.Record.Sequence <= horizon)
        {
            _byLastExecution.RemoveFirst();
            _records.Remove(oldest.Value.Client);
            if (!ClientSession.IsReserved(oldest.Value.Client))
            {
                // Sessions and registration nonces are refused by their own rules once forgotten; their timestamps
                // must not raise the mark that the application's own clients live under.
                ExpiredThrough = Math.Max(ExpiredThrough, oldest.Value.Record.Timestamp);
            }

            forgotten++;
        }

        return forgotten;
    }

    /// <summary>Every remembered client with its record, by the slot of its last execution: deterministic, and the
    /// order <see cref="Restore"/> expects (for snapshots).</summary>
    public IEnumerable<(ClientId Client, ClientRecord Record)> InExecutionOrder() => _byLastExecution;

    /// <summary>Replaces the contents with a table listed by <see cref="InExecutionOrder"/> and its expiry mark (from a
    /// snapshot).</summary>
    public void Restore(long expiredThrough, IEnumerable<(ClientId Client, ClientRecord Record)> clients)
    {
        _records.Clear();
        _byLastExecution.Clear();
        ExpiredThrough = expiredThrough;
        foreach (var (client, record) in clients)
        {
            Record(client, record.Timestamp, record.Sequence, record.Result, record.Rejected);
        }
    }
}

/// <summary>One client's entry in the client table: its last executed update, where it executed, and the reply — the
/// executor's, or, when <paramref name="Rejected"/>, the error of its <see cref="UpdateRejectedException"/>.</summary>
internal readonly record struct ClientRecord(long Timestamp, long Sequence, ReadOnlyMemory<byte> Result, bool Rejected = false)
{
    /// <summary>How the recorded update ended, for its reply.</summary>
    public ReplyStatus Status => Rejected ? ReplyStatus.Rejected : ReplyStatus.Executed;
}
