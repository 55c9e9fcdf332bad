using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Paxos.Diagnostics;

namespace Paxos.Messages;

/// <summary>
/// The binary wire format of <see cref="PaxosMessage"/>s: one message per datagram,
/// little-endian and fixed-width, closed by a CRC-32C or, when the cluster has a key, an HMAC-SHA256.
/// </summary>
/// <remarks>
/// <para>A frame is a 16-byte header, the body, then the trailer:</para>
/// <code>
/// offset  0  u16 magic 0x5850 ("PX")
///         2  u8  version (2)
///         3  u8  flags: bit 0 set = HMAC-SHA256 trailer, clear = CRC-32C trailer; other bits 0
///         4  u32 cluster id
///         8  u8  message type (<see cref="MessageType"/>)
///         9  u8  cluster size N (1 to 64): the configuration, whose members are replicas 0 to N − 1
///        10  u16 sender replica id
///        12  u32 body length
///        16  body
///  16 + len  u32 CRC-32C, or 32-byte HMAC-SHA256 keyed with the cluster key, of bytes [0, 16 + len)
/// </code>
/// <para>The cluster id and the cluster size together are the cluster's identity. Every frame carries both, so a
/// replica drops (and its transport counts) a frame of another cluster (<see cref="DecodeStatus.WrongCluster"/>) or
/// of a replica configured with another cluster size (<see cref="DecodeStatus.WrongConfiguration"/>): two replicas
/// that disagree on the size of the cluster disagree on what a majority is, and must never count each other's
/// votes. Version 1 frames had a reserved zero byte where version 2 has the cluster size; a version-1 frame, or
/// one of any version but 2, is dropped as <see cref="DecodeStatus.UnsupportedVersion"/>, so a cluster is upgraded
/// to version 2 as a whole (stop every replica, then start them on the new version).</para>
/// <para>An update is encoded as i64 client id, i64 timestamp, i32 origin (−1 for none), u32 payload
/// length and the payload: <see cref="MessageSizes.UpdateOverheadBytes"/> bytes plus the payload. A data-list
/// entry is i64 slot, i64 view, u8 kind (0 Proposal, 1 ordered) and the update:
/// <see cref="MessageSizes.EntryOverheadBytes"/> more. Bodies hold the message's fields in the order of its
/// constructor; a list is a u32 count and its elements, last in the body.</para>
/// <para>Encoding never allocates. Decoding never throws, whatever the bytes: it allocates only the message,
/// its arrays, its updates and one array holding all payload bytes (so the frame buffer can be reused),
/// and only after the whole body was checked, so a forged count costs nothing. The codec is immutable and
/// may be shared between threads.</para>
/// </remarks>
public sealed class MessageCodec
{
    /// <summary>Proposal flag: the Proposal counts as the leader's acceptance.</summary>
    private const byte ProposalImpliesLeaderAcceptance = 1;

    /// <summary>Prepare_OK flag: the sender is rebuilding state it lost with its disk.</summary>
    private const byte PrepareOkRebuilding = 1;

    /// <summary>The size of the frame header, in bytes.</summary>
    public const int HeaderBytes = 16;

    /// <summary>The size of the CRC-32C trailer of a frame without a cluster key, in bytes.</summary>
    public const int ChecksumTrailerBytes = 4;

    /// <summary>The size of the HMAC-SHA256 trailer of a frame with a cluster key, in bytes.</summary>
    public const int MacTrailerBytes = 32;

    private const ushort Magic = 0x5850;
    /// <summary>The frame format version: 2 carries the cluster size at offset 9 (version 1 had a reserved 0 there).</summary>
    private const byte FormatVersion = 2;
    private const byte AuthenticatedFlag = 0x01;
    private const int VersionOffset = 2;
    private const int FlagsOffset = 3;
    private const int ClusterIdOffset = 4;
    private const int TypeOffset = 8;
    private const int ClusterSizeOffset = 9;
    private const int SenderOffset = 10;
    private const int BodyLengthOffset = 12;

    private const int UpdateBytes = MessageSizes.UpdateOverheadBytes;
    private const int EntryBytes = MessageSizes.EntryOverheadBytes;
    private const byte ProposalEntryKind = 0;
    private const byte OrderedEntryKind = 1;

    private readonly uint _clusterId;
    private readonly int _clusterSize;
    private readonly byte[]? _key;

    /// <summary>Builds a codec.</summary>
    /// <param name="options">The cluster's framing options; read once, here.</param>
    /// <exception cref="ArgumentException">An option is out of range; the message names it.</exception>
    public MessageCodec(MessageCodecOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.ClusterSize is < 1 or > 64)
        {
            throw Invalid(options, $"MessageCodecOptions.ClusterSize must be from 1 to 64; it is {options.ClusterSize}.");
        }

        if (options.MaxMessageBytes is < MessageSizes.MinMessageBytes or > MessageSizes.MaxMessageBytes)
        {
            throw Invalid(options, $"MessageCodecOptions.MaxMessageBytes must be from {MessageSizes.MinMessageBytes} to {MessageSizes.MaxMessageBytes}; it is {options.MaxMessageBytes}.");
        }

        if (!options.ClusterKey.IsEmpty && options.ClusterKey.Length < MessageCodecOptions.MinClusterKeyBytes)
        {
            throw Invalid(options, $"MessageCodecOptions.ClusterKey must be empty or at least {MessageCodecOptions.MinClusterKeyBytes} bytes; it is {options.ClusterKey.Length}.");
        }

        _clusterId = options.ClusterId;
        _clusterSize = options.ClusterSize;
        _key = options.ClusterKey.IsEmpty ? null : options.ClusterKey.ToArray();
        MaxMessageBytes = options.MaxMessageBytes;
        TrailerBytes = _key is null ? ChecksumTrailerBytes : MacTrailerBytes;
        MaxFrameBytes = HeaderBytes + MaxMessageBytes + TrailerBytes;
    }

    /// <summary>Whether frames carry an HMAC-SHA256 (a cluster key is set) rather than a CRC-32C.</summary>
    public bool IsAuthenticated => _key is not null;

    /// <summary>The largest body this codec encodes or accepts, in bytes (<see cref="MessageCodecOptions.MaxMessageBytes"/>).</summary>
    public int MaxMessageBytes { get; }

    /// <summary>The size of this codec's trailer: <see cref="ChecksumTrailerBytes"/> or <see cref="MacTrailerBytes"/>.</summary>
    public int TrailerBytes { get; }

    /// <summary>The largest frame: header, <see cref="MaxMessageBytes"/> of body and trailer. A receive buffer
    /// of this size holds any frame this codec accepts.</summary>
    public int MaxFrameBytes { get; }

    /// <summary>The exact length of the frame <see cref="Encode"/> writes for <paramref name="message"/>,
    /// which may exceed <see cref="MaxFrameBytes"/> (then <see cref="Encode"/> refuses the message).</summary>
    /// <param name="message">The message.</param>
    /// <returns>The frame length in bytes.</returns>
    /// <exception cref="ArgumentException">The message cannot be encoded: see <see cref="Encode"/>.</exception>
    public int GetEncodedLength(PaxosMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return checked(HeaderBytes + MeasureBody(message) + TrailerBytes);
    }

    /// <summary>Writes <paramref name="message"/> as one frame at the start of <paramref name="destination"/>.
    /// It never allocates.</summary>
    /// <param name="message">The message.</param>
    /// <param name="destination">Where to write; at least <see cref="GetEncodedLength"/> bytes.</param>
    /// <returns>The number of bytes written.</returns>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too small; or the message is one
    /// the protocol must never send: its body exceeds <see cref="MaxMessageBytes"/> (it should have been split),
    /// its sender is not a member, or a field is out of the range <see cref="TryDecode"/> accepts (a negative
    /// view or slot, an empty Proposal or forward, an invalid update or part number).</exception>
    public int Encode(PaxosMessage message, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(message);
        var bodyLength = MeasureBody(message);
        if (bodyLength > MaxMessageBytes)
        {
            throw new ArgumentException(Text($"The {message.Type} body is {bodyLength} bytes, over MaxMessageBytes ({MaxMessageBytes}); the protocol should have split it."), nameof(message));
        }

        var coveredLength = HeaderBytes + bodyLength;
        var frameLength = coveredLength + TrailerBytes;
        if (destination.Length < frameLength)
        {
            throw new ArgumentException(Text($"The destination holds {destination.Length} bytes; the {message.Type} frame needs {frameLength}."), nameof(destination));
        }

        WriteHeader(message, bodyLength, destination);
        var writer = new SpanWriter(destination.Slice(HeaderBytes, bodyLength));
        WriteBody(message, ref writer);
        Debug.Assert(writer.Written == bodyLength, "The body length was measured wrongly.");

        var covered = destination[..coveredLength];
        var trailer = destination.Slice(coveredLength, TrailerBytes);
        if (_key is null)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(trailer, Crc32C.Compute(covered));
        }
        else
        {
            HMACSHA256.HashData(_key, covered, trailer);
        }

        return frameLength;
    }

    /// <summary>
    /// Reads one frame. It never throws: a frame that is not an intact, well-formed message of this cluster
    /// yields a status other than <see cref="DecodeStatus.Ok"/> and no message.
    /// </summary>
    /// <remarks>The checks run in this order, and the first that fails gives the status: the frame is at least
    /// a header and a CRC trailer long (<see cref="DecodeStatus.Truncated"/>) and at most
    /// <see cref="MaxFrameBytes"/> (<see cref="DecodeStatus.TooLarge"/>); magic; version; flags; the frame is
    /// authenticated exactly when this codec has a key (<see cref="DecodeStatus.Unauthenticated"/>,
    /// <see cref="DecodeStatus.BadFlags"/>); the declared body length matches the frame
    /// (<see cref="DecodeStatus.Truncated"/> when the frame is shorter, <see cref="DecodeStatus.Malformed"/>
    /// when longer); the CRC or MAC; then, only now that they are known to be intact, cluster id
    /// (<see cref="DecodeStatus.WrongCluster"/>), cluster size (<see cref="DecodeStatus.WrongConfiguration"/>),
    /// sender, type and the body.</remarks>
    /// <param name="frame">The datagram. The message does not refer to it afterwards, so its buffer may be reused.</param>
    /// <param name="message">The message when the result is <see cref="DecodeStatus.Ok"/>; otherwise null.</param>
    /// <returns>Whether the frame held a message, or why not.</returns>
    public DecodeStatus TryDecode(ReadOnlySpan<byte> frame, out PaxosMessage? message)
    {
        message = null;
        var status = CheckFrame(frame, out var coveredLength);
        if (status != DecodeStatus.Ok)
        {
            return status;
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(frame[ClusterIdOffset..]) != _clusterId)
        {
            return DecodeStatus.WrongCluster;
        }

        if (frame[ClusterSizeOffset] != _clusterSize)
        {
            return DecodeStatus.WrongConfiguration;
        }

        var sender = BinaryPrimitives.ReadUInt16LittleEndian(frame[SenderOffset..]);
        if (sender >= _clusterSize)
        {
            return DecodeStatus.UnknownSender;
        }

        var type = frame[TypeOffset];
        if (type is < (byte)MessageType.ViewChange or > (byte)MessageType.ReadIndexReply)
        {
            return DecodeStatus.UnknownType;
        }

        var reader = new SpanReader(frame[HeaderBytes..coveredLength]);
        message = DecodeBody((MessageType)type, new ReplicaId(sender), ref reader);
        return message is null ? DecodeStatus.Malformed : DecodeStatus.Ok;
    }

    /// <summary>Checks everything up to and including the integrity of the frame: lengths, magic, version,
    /// flags and the CRC or MAC. Sets <paramref name="coveredLength"/> to the header-and-body length.</summary>
    private DecodeStatus CheckFrame(ReadOnlySpan<byte> frame, out int coveredLength)
    {
        coveredLength = 0;
        if (frame.Length < HeaderBytes + ChecksumTrailerBytes)
        {
            return DecodeStatus.Truncated;
        }

        if (frame.Length > MaxFrameBytes)
        {
            return DecodeStatus.TooLarge;
        }

        if (BinaryPrimitives.ReadUInt16LittleEndian(frame) != Magic)
        {
            return DecodeStatus.BadMagic;
        }

        if (frame[VersionOffset] != FormatVersion)
        {
            return DecodeStatus.UnsupportedVersion;
        }

        var flags = frame[FlagsOffset];
        var authenticated = (flags & AuthenticatedFlag) != 0;
        if ((flags & ~AuthenticatedFlag) != 0 || (authenticated && _key is null))
        {
            return DecodeStatus.BadFlags;
        }

        if (!authenticated && _key is not null)
        {
            return DecodeStatus.Unauthenticated;
        }

        // In long arithmetic: the declared length is any u32.
        var declaredFrameLength = HeaderBytes + (long)BinaryPrimitives.ReadUInt32LittleEndian(frame[BodyLengthOffset..]) + TrailerBytes;
        if (declaredFrameLength != frame.Length)
        {
            return declaredFrameLength > frame.Length ? DecodeStatus.Truncated : DecodeStatus.Malformed;
        }

        coveredLength = frame.Length - TrailerBytes;
        return IsIntact(frame[..coveredLength], frame[coveredLength..]);
    }

    private DecodeStatus IsIntact(ReadOnlySpan<byte> covered, ReadOnlySpan<byte> trailer)
    {
        if (_key is null)
        {
            return Crc32C.Compute(covered) == BinaryPrimitives.ReadUInt32LittleEndian(trailer)
                ? DecodeStatus.Ok
                : DecodeStatus.BadChecksum;
        }

        Span<byte> mac = stackalloc byte[MacTrailerBytes];
        HMACSHA256.HashData(_key, covered, mac);
        return CryptographicOperations.FixedTimeEquals(mac, trailer) ? DecodeStatus.Ok : DecodeStatus.BadMac;
    }

    private void WriteHeader(PaxosMessage message, int bodyLength, Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(destination, Magic);
        destination[VersionOffset] = FormatVersion;
        destination[FlagsOffset] = _key is null ? (byte)0 : AuthenticatedFlag;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[ClusterIdOffset..], _clusterId);
        destination[TypeOffset] = (byte)message.Type;
        destination[ClusterSizeOffset] = (byte)_clusterSize;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[SenderOffset..], (ushort)message.Sender.Value);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[BodyLengthOffset..], (uint)bodyLength);
    }

    // ---- Encoding: measure (and validate), then write. ----

    /// <summary>The body length of <paramref name="message"/>, after checking that every field is one
    /// <see cref="TryDecode"/> accepts, so that the codec never sends what it would refuse.</summary>
    private int MeasureBody(PaxosMessage message)
    {
        if (message.Sender.Value < 0 || message.Sender.Value >= _clusterSize)
        {
            throw new ArgumentException(Text($"The sender {message.Sender} of {message.Type} is not a member of a cluster of {_clusterSize}."), nameof(message));
        }

        long length = message switch
        {
            ViewChange m => Int64Fields(m, 1, m.Attempted.Value),
            VcProof m => Int64Fields(m, 2, m.Installed.Value, m.ConstrainedThrough.Value),
            RebuildQuery m => Int64Fields(m, 2, m.Nonce, m.Floor.Value),
            RebuildReply m => Int64Fields(m, 2, m.Nonce, m.LastAttempted.Value) + Int64Fields(m, 2, m.LastInstalled.Value, m.LeaderLastProposed.Value),
            Prepare m => Int64Fields(m, 2, m.View.Value, m.LocalAru.Value),
            PrepareReject m => Int64Fields(m, 2, m.View.Value, m.LocalAru.Value),
            Alive m => Int64Fields(m, 2, m.LocalAru.Value, m.LastInstalled.Value),
            CatchUpRequest m => Int64Fields(m, 2, m.FromSequence.Value, m.ToSequence.Value),
            Accept m => Int64Fields(m, 3, m.View.Value, m.FirstSequence.Value, m.LastSequence.Value),
            Proposal m => Int64Fields(m, 2, m.View.Value, m.FirstSequence.Value) + 1 + MeasureUpdates(m, m.UpdateArray, minimumCount: 1),
            GloballyOrderedUpdate m => Int64Fields(m, 1, m.FirstSequence.Value) + MeasureUpdates(m, m.UpdateArray, minimumCount: 0),
            ClientUpdateForward m => MeasureUpdates(m, m.UpdateArray, minimumCount: 1),
            PrepareOk m => MeasurePrepareOk(m),
            SnapshotChunk m => MeasureSnapshotChunk(m),
            SnapshotChunkRequest m => Int64Fields(m, 2, m.Sequence.Value, m.Offset),
            ReadConfirmRequest m => Int64Fields(m, 2, m.View.Value, m.Round),
            ReadConfirm m => Int64Fields(m, 3, m.View.Value, m.Round, m.LeaseTicks),
            ReadIndexRequest m => Int64Fields(m, 2, m.View.Value, m.RequestId),
            ReadIndexReply m => Int64Fields(m, 3, m.View.Value, m.RequestId, m.Index.Value),
            _ => throw new ArgumentException(Text($"The codec has no encoding for {message.GetType().Name}."), nameof(message)),
        };

        // Bodies the protocol builds are far smaller; this only keeps the arithmetic honest.
        if (length > int.MaxValue - HeaderBytes - MacTrailerBytes)
        {
            throw new ArgumentException(Text($"The {message.Type} body is {length} bytes, too large for a frame."), nameof(message));
        }

        return (int)length;
    }

    /// <summary>The size of a snapshot piece: sequence, total length, offset, the bytes' length, then the bytes. The
    /// piece must lie within the file.</summary>
    private static long MeasureSnapshotChunk(SnapshotChunk message)
    {
        if (message.Data.Length == 0 || message.Offset > message.TotalBytes - message.Data.Length)
        {
            throw new ArgumentException(Text($"{message} is empty or ends beyond its file."), nameof(message));
        }

        return Int64Fields(message, 3, message.Sequence.Value, message.TotalBytes, message.Offset) + sizeof(uint) + message.Data.Length;
    }

    /// <summary>The size of <paramref name="count"/> i64 views or sequence numbers, which must not be negative.</summary>
    private static int Int64Fields(PaxosMessage message, int count, long first, long second = 0, long third = 0)
    {
        if (first < 0 || second < 0 || third < 0)
        {
            throw new ArgumentException(Text($"{message.Type} from {message.Sender} has a negative view or sequence number: {message}."), nameof(message));
        }

        return count * sizeof(long);
    }

    /// <summary>The size of a u32 count and the updates, which must number at least <paramref name="minimumCount"/>.</summary>
    private long MeasureUpdates(PaxosMessage message, ClientUpdate[] updates, int minimumCount)
    {
        if (updates.Length < minimumCount)
        {
            throw new ArgumentException(Text($"{message.Type} from {message.Sender} carries no update."), nameof(message));
        }

        long length = sizeof(uint);
        foreach (var update in updates)
        {
            length += MeasureUpdate(message, update);
        }

        return length;
    }

    private long MeasurePrepareOk(PrepareOk message)
    {
        if (message.View.Value < 0 || message.Part < 0 || message.PartCount < 1 || message.Part >= message.PartCount || message.Entries is null)
        {
            throw new ArgumentException(Text($"PrepareOk from {message.Sender} has a negative view, a part outside its part count, or no entry list: {message}."), nameof(message));
        }

        long length = sizeof(long) + sizeof(int) + sizeof(int) + sizeof(byte) + sizeof(uint);
        var entries = message.Entries;
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            if (entry.Sequence.Value < 0 || entry.View.Value < 0)
            {
                throw new ArgumentException(Text($"PrepareOk from {message.Sender} has an entry with a negative slot or view: {entry}."), nameof(message));
            }

            length += EntryBytes + MeasureUpdate(message, entry.Update);
        }

        return length;
    }

    private long MeasureUpdate(PaxosMessage message, ClientUpdate? update)
    {
        if (update is null
            || !UpdateEncoding.IsValid(update.ClientId.Value, update.Timestamp, update.Origin.Value, update.Payload.Length, _clusterSize))
        {
            throw new ArgumentException(Text($"{message.Type} from {message.Sender} carries a missing or invalid update ({update?.ToString() ?? "null"}, origin {update?.Origin.ToString() ?? "-"})."), nameof(message));
        }

        return UpdateBytes + update.Payload.Length;
    }

    private static void WriteBody(PaxosMessage message, ref SpanWriter writer)
    {
        switch (message)
        {
            case ViewChange m:
                writer.WriteInt64(m.Attempted.Value);
                break;
            case VcProof m:
                writer.WriteInt64(m.Installed.Value);
                writer.WriteInt64(m.ConstrainedThrough.Value);
                break;
            case RebuildQuery m:
                writer.WriteInt64(m.Nonce);
                writer.WriteInt64(m.Floor.Value);
                break;
            case RebuildReply m:
                writer.WriteInt64(m.Nonce);
                writer.WriteInt64(m.LastAttempted.Value);
                writer.WriteInt64(m.LastInstalled.Value);
                writer.WriteInt64(m.LeaderLastProposed.Value);
                break;
            case Prepare m:
                writer.WriteInt64(m.View.Value);
                writer.WriteInt64(m.LocalAru.Value);
                break;
            case PrepareReject m:
                writer.WriteInt64(m.View.Value);
                writer.WriteInt64(m.LocalAru.Value);
                break;
            case Alive m:
                writer.WriteInt64(m.LocalAru.Value);
                writer.WriteInt64(m.LastInstalled.Value);
                break;
            case CatchUpRequest m:
                writer.WriteInt64(m.FromSequence.Value);
                writer.WriteInt64(m.ToSequence.Value);
                break;
            case Accept m:
                writer.WriteInt64(m.View.Value);
                writer.WriteInt64(m.FirstSequence.Value);
                writer.WriteInt64(m.LastSequence.Value);
                break;
            case SnapshotChunk m:
                writer.WriteInt64(m.Sequence.Value);
                writer.WriteInt64(m.TotalBytes);
                writer.WriteInt64(m.Offset);
                writer.WriteUInt32((uint)m.Data.Length);
                writer.WriteBytes(m.Data.Span);
                break;
            case SnapshotChunkRequest m:
                writer.WriteInt64(m.Sequence.Value);
                writer.WriteInt64(m.Offset);
                break;
            case ReadConfirmRequest m:
                writer.WriteInt64(m.View.Value);
                writer.WriteInt64(m.Round);
                break;
            case ReadConfirm m:
                writer.WriteInt64(m.View.Value);
                writer.WriteInt64(m.Round);
                writer.WriteInt64(m.LeaseTicks);
                break;
            case ReadIndexRequest m:
                writer.WriteInt64(m.View.Value);
                writer.WriteInt64(m.RequestId);
                break;
            case ReadIndexReply m:
                writer.WriteInt64(m.View.Value);
                writer.WriteInt64(m.RequestId);
                writer.WriteInt64(m.Index.Value);
                break;
            default:
                WriteListBody(message, ref writer);
                break;
        }
    }

    private static void WriteListBody(PaxosMessage message, ref SpanWriter writer)
    {
        switch (message)
        {
            case Proposal m:
                writer.WriteInt64(m.View.Value);
                writer.WriteInt64(m.FirstSequence.Value);
                writer.WriteByte(m.ImpliesLeaderAcceptance ? ProposalImpliesLeaderAcceptance : (byte)0);
                UpdateEncoding.WriteList(m.UpdateArray, ref writer);
                break;
            case GloballyOrderedUpdate m:
                writer.WriteInt64(m.FirstSequence.Value);
                UpdateEncoding.WriteList(m.UpdateArray, ref writer);
                break;
            case ClientUpdateForward m:
                UpdateEncoding.WriteList(m.UpdateArray, ref writer);
                break;
            case PrepareOk m:
                WritePrepareOk(m, ref writer);
                break;
            default:
                throw new UnreachableException("MeasureBody accepted a message it cannot write.");
        }
    }

    private static void WritePrepareOk(PrepareOk message, ref SpanWriter writer)
    {
        var entries = message.Entries;
        writer.WriteInt64(message.View.Value);
        writer.WriteInt32(message.Part);
        writer.WriteInt32(message.PartCount);
        writer.WriteByte(message.Rebuilding ? PrepareOkRebuilding : (byte)0);
        writer.WriteUInt32((uint)entries.Count);
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            writer.WriteInt64(entry.Sequence.Value);
            writer.WriteInt64(entry.View.Value);
            writer.WriteByte(entry.IsOrdered ? OrderedEntryKind : ProposalEntryKind);
            UpdateEncoding.Write(entry.Update, ref writer);
        }
    }

    // ---- Decoding: the body of an intact frame. Null means Malformed. ----

    private PaxosMessage? DecodeBody(MessageType type, ReplicaId sender, ref SpanReader reader)
    {
        switch (type)
        {
            case MessageType.ViewChange:
                return reader.TryReadFields(out var a) && reader.IsEmpty
                    ? new ViewChange(sender, new ViewNumber(a)) : null;
            case MessageType.VcProof:
                return reader.TryReadFields(out a, out var proposed) && reader.IsEmpty
                    ? new VcProof(sender, new ViewNumber(a), new SequenceNumber(proposed)) : null;
            case MessageType.RebuildQuery:
                return reader.TryReadFields(out a, out var floor) && reader.IsEmpty
                    ? new RebuildQuery(sender, a, new ViewNumber(floor)) : null;
            case MessageType.RebuildReply:
                return reader.TryReadFields(out a, out var attempted) && reader.TryReadFields(out var installed, out var leaderProposed) && reader.IsEmpty
                    ? new RebuildReply(sender, a, new ViewNumber(attempted), new ViewNumber(installed), new SequenceNumber(leaderProposed)) : null;
            case MessageType.Prepare:
                return reader.TryReadFields(out a, out var b) && reader.IsEmpty
                    ? new Prepare(sender, new ViewNumber(a), new SequenceNumber(b)) : null;
            case MessageType.PrepareReject:
                return reader.TryReadFields(out a, out b) && reader.IsEmpty
                    ? new PrepareReject(sender, new ViewNumber(a), new SequenceNumber(b)) : null;
            case MessageType.Alive:
                return reader.TryReadFields(out a, out b) && reader.IsEmpty
                    ? new Alive(sender, new SequenceNumber(a), new ViewNumber(b)) : null;
            case MessageType.CatchUpRequest:
                return reader.TryReadFields(out a, out b) && reader.IsEmpty
                    ? new CatchUpRequest(sender, new SequenceNumber(a), new SequenceNumber(b)) : null;
            case MessageType.Accept:
                return reader.TryReadFields(out a, out b) && reader.TryReadFields(out var c) && reader.IsEmpty
                    ? new Accept(sender, new ViewNumber(a), new SequenceNumber(b), new SequenceNumber(c)) : null;
            default:
                return type >= MessageType.ReadConfirmRequest ? DecodeReadBody(type, sender, ref reader) : DecodeListBody(type, sender, ref reader);
        }
    }

    private static PaxosMessage? DecodeReadBody(MessageType type, ReplicaId sender, ref SpanReader reader)
    {
        switch (type)
        {
            case MessageType.ReadConfirmRequest:
                return reader.TryReadFields(out var view, out var round) && reader.IsEmpty
                    ? new ReadConfirmRequest(sender, new ViewNumber(view), round) : null;
            case MessageType.ReadConfirm:
                return reader.TryReadFields(out view, out round) && reader.TryReadFields(out var lease) && reader.IsEmpty
                    ? new ReadConfirm(sender, new ViewNumber(view), round, lease) : null;
            case MessageType.ReadIndexRequest:
                return reader.TryReadFields(out view, out var id) && reader.IsEmpty
                    ? new ReadIndexRequest(sender, new ViewNumber(view), id) : null;
            case MessageType.ReadIndexReply:
                return reader.TryReadFields(out view, out id) && reader.TryReadFields(out var index) && reader.IsEmpty
                    ? new ReadIndexReply(sender, new ViewNumber(view), id, new SequenceNumber(index)) : null;
            default:
                return null;
        }
    }

    private PaxosMessage? DecodeListBody(MessageType type, ReplicaId sender, ref SpanReader reader)
    {
        switch (type)
        {
            case MessageType.Proposal:
                return reader.TryReadFields(out var view, out var first)
                    && reader.TryReadByte(out var flags) && (flags & ~ProposalImpliesLeaderAcceptance) == 0
                    && UpdateEncoding.TryReadList(ref reader, minimumCount: 1, _clusterSize, out var updates)
                    ? new Proposal(sender, new ViewNumber(view), new SequenceNumber(first), updates, (flags & ProposalImpliesLeaderAcceptance) != 0) : null;
            case MessageType.GloballyOrderedUpdate:
                return reader.TryReadFields(out first) && UpdateEncoding.TryReadList(ref reader, minimumCount: 0, _clusterSize, out updates)
                    ? new GloballyOrderedUpdate(sender, new SequenceNumber(first), updates) : null;
            case MessageType.ClientUpdateForward:
                return UpdateEncoding.TryReadList(ref reader, minimumCount: 1, _clusterSize, out updates)
                    ? new ClientUpdateForward(sender, updates) : null;
            case MessageType.PrepareOk:
                return DecodePrepareOk(sender, ref reader);
            case MessageType.SnapshotChunk:
                return DecodeSnapshotChunk(sender, ref reader);
            case MessageType.SnapshotChunkRequest:
                return reader.TryReadFields(out var sequence, out var offset) && reader.IsEmpty
                    ? new SnapshotChunkRequest(sender, new SequenceNumber(sequence), offset) : null;
            default:
                return null;
        }
    }

    private static SnapshotChunk? DecodeSnapshotChunk(ReplicaId sender, ref SpanReader reader)
    {
        if (!reader.TryReadFields(out var sequence, out var total) || !reader.TryReadFields(out var offset)
            || !reader.TryReadCount(minimumElementBytes: 1, minimumCount: 1, out var length)
            || offset > total - length
            || !reader.TryReadBytes(length, out var data) || !reader.IsEmpty)
        {
            return null;
        }

        return new SnapshotChunk(sender, new SequenceNumber(sequence), total, offset, data.ToArray());
    }

    private PrepareOk? DecodePrepareOk(ReplicaId sender, ref SpanReader reader)
    {
        if (!reader.TryReadFields(out var view)
            || !reader.TryReadInt32(out var part)
            || !reader.TryReadInt32(out var partCount)
            || part < 0 || partCount < 1 || part >= partCount
            || !reader.TryReadByte(out var flags) || (flags & ~PrepareOkRebuilding) != 0
            || !reader.TryReadCount(EntryBytes + UpdateBytes, minimumCount: 0, out var count))
        {
            return null;
        }

        var check = reader;
        var payloadBytes = 0;
        for (var i = 0; i < count; i++)
        {
            if (!check.TryReadFields(out _, out _) || !check.TryReadByte(out var kind) || kind > OrderedEntryKind
                || !UpdateEncoding.TrySkip(ref check, _clusterSize, ref payloadBytes))
            {
                return null;
            }
        }

        if (!check.IsEmpty)
        {
            return null;
        }

        var entries = count == 0 ? [] : new DataListEntry[count];
        var payloads = new PayloadBuffer(payloadBytes);
        for (var i = 0; i < entries.Length; i++)
        {
            // The first pass checked every field, so these reads succeed.
            _ = reader.TryReadFields(out var sequence, out var entryView);
            _ = reader.TryReadByte(out var kind);
            var update = UpdateEncoding.ReadChecked(ref reader, ref payloads);
            entries[i] = new DataListEntry(new SequenceNumber(sequence), new ViewNumber(entryView), kind == OrderedEntryKind, update);
        }

        return new PrepareOk(sender, new ViewNumber(view), part, partCount, entries, (flags & PrepareOkRebuilding) != 0);
    }

    private static ArgumentException Invalid(MessageCodecOptions options, string message) =>
        new(message, nameof(options));

    private static string Text(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
