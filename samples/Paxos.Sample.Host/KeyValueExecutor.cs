using System.Buffers.Binary;
using System.Text;
using System.Text.Unicode;

namespace Paxos.Sample;

/// <summary>
/// The sample's state machine: a replicated key-value store. A payload is UTF-8 text, <c>SET key value</c> or
/// <c>GET key</c>; the reply carries the previous value (SET) or the value (GET). It also keeps a running 64-bit
/// FNV-1a digest of everything it executed, so replicas can be compared by two numbers: how many updates they
/// executed and the digest of that sequence.
/// </summary>
/// <remarks>
/// Deterministic, as <see cref="IExecutor"/> requires: no clock, no randomness, and the dictionary is only looked
/// up, never iterated while executing (a snapshot lists it, and the order of its entries does not matter: restoring
/// any order gives the same store). A snapshot copies the store when it is captured — at most
/// <see cref="MaxKeys"/> keys, so a copy is cheap here; a large store would capture a persistent or copy-on-write
/// version instead — and the history of executed updates, when kept, so a replica restored from a snapshot still
/// answers History requests from the first update. Bad input is an answer (<see cref="ReplyKind.Error"/>), never an exception: an exception
/// here would stop the replica (fail-stop), and every replica would stop on the same bad update.
/// </remarks>
internal sealed class KeyValueExecutor : ISnapshotExecutor, IReadExecutor
{
    /// <summary>The most keys the store holds; a SET of a new key beyond it is answered with an error. The same
    /// on every replica, so the answer is too.</summary>
    public const int MaxKeys = 100_000;

    /// <summary>The longest key, in UTF-8 bytes (it is decoded on the stack).</summary>
    public const int MaxKeyBytes = 256;

    /// <summary>Bytes before the value in every reply: the sequence number (8) and the <see cref="ReplyKind"/> (1).</summary>
    public const int ReplyHeaderBytes = 9;

    private const ulong FnvOffsetBasis = 14695981039346656037UL;
    private const ulong FnvPrime = 1099511628211UL;

    // Each value is stored as a whole reply-to-be: ReplyHeaderBytes of room, then the value. When a SET replaces it,
    // the old array gets its header filled in and becomes that SET's reply, so a SET allocates one array, not two.
    private readonly Dictionary<string, byte[]> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, byte[]>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly Lock _lock = new();
    private long _executed;
    private long _lastSequence;
    private ulong _digest = FnvOffsetBasis;

    /// <summary>A store in its initial state.</summary>
    /// <param name="keepHistory">Whether to keep the list of executed updates (<see cref="History"/>), 24 bytes per
    /// update; a load run that measures memory can do without it.</param>
    public KeyValueExecutor(bool keepHistory = true)
    {
        _lookup = _values.GetAlternateLookup<ReadOnlySpan<char>>();
        History = keepHistory ? new ExecutionHistory() : null;
    }

    /// <summary>Every update executed, in order, or null when not kept.</summary>
    public ExecutionHistory? History { get; }

    /// <summary>What a reply says.</summary>
    public enum ReplyKind : byte
    {
        /// <summary>The value follows (the previous value for SET, the value for GET).</summary>
        Value = 0,

        /// <summary>There was no value.</summary>
        None = 1,

        /// <summary>The update was not understood; a UTF-8 explanation follows.</summary>
        Error = 2,
    }

    /// <summary>Executed count, last sequence and digest, read together (the node's loop writes them).</summary>
    public ExecutorSnapshot Snapshot()
    {
        lock (_lock)
        {
            return new ExecutorSnapshot(_executed, _lastSequence, _digest);
        }
    }

    public ReadOnlyMemory<byte> Execute(in OrderedUpdate update)
    {
        var payload = update.Payload.Span;
        var reply = Apply(payload, update.Sequence.Value);
        lock (_lock)
        {
            var digest = _digest;
            digest = Mix(digest, update.Sequence.Value);
            digest = Mix(digest, update.ClientId.Value);
            digest = Mix(digest, update.Timestamp);
            foreach (var b in payload)
            {
                digest = (digest ^ b) * FnvPrime;
            }

            _digest = digest;
            _executed++;
            _lastSequence = update.Sequence.Value;
        }

        History?.Add(new ExecutedEntry(update.Sequence.Value, update.ClientId.Value, update.Timestamp));
        return reply;
    }

    /// <summary>A linearizable read (<see cref="PaxosNode.ReadAsync"/>): the query is a key, and the answer is a GET's reply,
    /// stamped with the sequence number of the last update executed. Called on the replica's thread, like
    /// <see cref="Execute"/>, so the store needs no lock here.</summary>
    public ReadOnlyMemory<byte> Read(ReadOnlySpan<byte> query) =>
        query.Length is 0 or > MaxKeyBytes ? Reply(_lastSequence, ReplyKind.Error, "ERR a read's query is a key of 1 to 256 bytes"u8) : Get(query, _lastSequence);

    /// <summary>Copies the store, its counters and the history (when kept) as they are after the last execution.</summary>
    public IExecutorSnapshot CaptureSnapshot()
    {
        var entries = new (string Key, byte[] Value)[_values.Count];
        var i = 0;
        foreach (var (key, stored) in _values)
        {
            entries[i++] = (key, stored[ReplyHeaderBytes..]);
        }

        return new Capture(entries, Snapshot(), History?.ToArray());
    }

    /// <summary>Replaces the store, the counters and the history with a snapshot's.</summary>
    public void RestoreSnapshot(Stream snapshot)
    {
        using var reader = new BinaryReader(snapshot, Encoding.UTF8, leaveOpen: true);
        var executed = reader.ReadInt64();
        var lastSequence = reader.ReadInt64();
        var digest = reader.ReadUInt64();
        var count = reader.ReadInt32();
        _values.Clear();
        for (var i = 0; i < count; i++)
        {
            var key = reader.ReadString();
            var length = reader.ReadInt32();
            var stored = new byte[ReplyHeaderBytes + length];
            reader.BaseStream.ReadExactly(stored.AsSpan(ReplyHeaderBytes));
            _values[key] = stored;
        }

        var history = new List<ExecutedEntry>();
        if (reader.ReadBoolean())
        {
            var entries = reader.ReadInt64();
            for (var i = 0L; i < entries; i++)
            {
                history.Add(new ExecutedEntry(reader.ReadInt64(), reader.ReadInt64(), reader.ReadInt64()));
            }
        }

        History?.Reset(history);
        lock (_lock)
        {
            _executed = executed;
            _lastSequence = lastSequence;
            _digest = digest;
        }

        Restored = (new SequenceNumber(lastSequence), executed);
    }

    /// <summary>The snapshot this executor was restored from, if it was: its last sequence number and how many updates it
    /// held.</summary>
    public (SequenceNumber Sequence, long Executed)? Restored { get; private set; }

    /// <summary>Splits a reply into its sequence number, kind and value.</summary>
    public static bool TryParseReply(ReadOnlySpan<byte> reply, out long sequence, out ReplyKind kind, out ReadOnlySpan<byte> value)
    {
        sequence = 0;
        kind = ReplyKind.Error;
        value = default;
        if (reply.Length < ReplyHeaderBytes || reply[8] > (byte)ReplyKind.Error)
        {
            return false;
        }

        sequence = BinaryPrimitives.ReadInt64LittleEndian(reply);
        kind = (ReplyKind)reply[8];
        value = reply[ReplyHeaderBytes..];
        return true;
    }

    private byte[] Apply(ReadOnlySpan<byte> payload, long sequence)
    {
        if (!Utf8.IsValid(payload))
        {
            return Reply(sequence, ReplyKind.Error, "ERR the update is not UTF-8"u8);
        }

        if (payload.StartsWith("SET "u8))
        {
            var rest = payload[4..];
            var space = rest.IndexOf((byte)' ');
            return space <= 0 ? Reply(sequence, ReplyKind.Error, "ERR usage: SET key value"u8)
                : space > MaxKeyBytes ? Reply(sequence, ReplyKind.Error, "ERR the key is longer than 256 bytes"u8)
                : Set(rest[..space], rest[(space + 1)..], sequence);
        }

        if (payload.StartsWith("GET "u8) && payload.Length > 4 && payload[4..].IndexOf((byte)' ') < 0)
        {
            return payload.Length - 4 > MaxKeyBytes
                ? Reply(sequence, ReplyKind.Error, "ERR the key is longer than 256 bytes"u8)
                : Get(payload[4..], sequence);
        }

        return Reply(sequence, ReplyKind.Error, "ERR usage: SET key value | GET key"u8);
    }

    private byte[] Set(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, long sequence)
    {
        // Keys are at most MaxKeyBytes long, so one decodes on the stack.
        Span<char> chars = stackalloc char[key.Length];
        var keyChars = chars[..Encoding.UTF8.GetChars(key, chars)];
        if (_lookup.TryGetValue(keyChars, out var previous))
        {
            _lookup[keyChars] = Stored(value);
            return WithHeader(previous, sequence, ReplyKind.Value); // No longer in the store: it is the reply now.
        }

        if (_values.Count >= MaxKeys)
        {
            return Reply(sequence, ReplyKind.Error, "ERR the store is full"u8);
        }

        _values.Add(new string(keyChars), Stored(value));
        return Reply(sequence, ReplyKind.None, default);
    }

    private byte[] Get(ReadOnlySpan<byte> key, long sequence)
    {
        Span<char> chars = stackalloc char[key.Length];
        var keyChars = chars[..Encoding.UTF8.GetChars(key, chars)];
        return _lookup.TryGetValue(keyChars, out var stored)
            ? Reply(sequence, ReplyKind.Value, stored.AsSpan(ReplyHeaderBytes))
            : Reply(sequence, ReplyKind.None, default);
    }

    /// <summary>A value as the store keeps it: header room, then the value.</summary>
    private static byte[] Stored(ReadOnlySpan<byte> value)
    {
        var stored = new byte[ReplyHeaderBytes + value.Length];
        value.CopyTo(stored.AsSpan(ReplyHeaderBytes));
        return stored;
    }

    private static byte[] WithHeader(byte[] stored, long sequence, ReplyKind kind)
    {
        BinaryPrimitives.WriteInt64LittleEndian(stored, sequence);
        stored[8] = (byte)kind;
        return stored;
    }

    /// <summary>The sequence number leads the reply, so a client learns where its update executed — also when a
    /// re-submitted update is answered from the client table.</summary>
    private static byte[] Reply(long sequence, ReplyKind kind, ReadOnlySpan<byte> value)
    {
        var reply = new byte[ReplyHeaderBytes + value.Length];
        BinaryPrimitives.WriteInt64LittleEndian(reply, sequence);
        reply[8] = (byte)kind;
        value.CopyTo(reply.AsSpan(ReplyHeaderBytes));
        return reply;
    }

    private static ulong Mix(ulong digest, long value)
    {
        for (var i = 0; i < 8; i++)
        {
            digest = (digest ^ (byte)(value >> (8 * i))) * FnvPrime;
        }

        return digest;
    }
}

/// <summary>How far an executor got: updates executed, the last one's sequence number, and the digest of them all.</summary>
internal readonly record struct ExecutorSnapshot(long Executed, long LastSequence, ulong Digest);

/// <summary>A copy of the store taken by <see cref="KeyValueExecutor.CaptureSnapshot"/>, written later on another thread.</summary>
internal sealed class Capture((string Key, byte[] Value)[] entries, ExecutorSnapshot counters, ExecutedEntry[]? history) : IExecutorSnapshot
{
    public void WriteTo(Stream destination)
    {
        using var writer = new BinaryWriter(destination, Encoding.UTF8, leaveOpen: true);
        writer.Write(counters.Executed);
        writer.Write(counters.LastSequence);
        writer.Write(counters.Digest);
        writer.Write(entries.Length);
        foreach (var (key, value) in entries)
        {
            writer.Write(key);
            writer.Write(value.Length);
            writer.Write(value);
        }

        writer.Write(history is not null);
        if (history is not null)
        {
            writer.Write(history.LongLength);
            foreach (var entry in history)
            {
                writer.Write(entry.Sequence);
                writer.Write(entry.ClientId);
                writer.Write(entry.Timestamp);
            }
        }
    }

    public void Dispose()
    {
    }
}
