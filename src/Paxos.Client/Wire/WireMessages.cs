using System.Buffers.Binary;
using System.Text;

namespace Paxos.Client.Wire;

/// <summary>A replica's protocol state as <see cref="FrameType.StatusReply"/> carries it (Paxos.Core's ReplicaState).</summary>
internal enum WireReplicaState : byte
{
    LeaderElection = 0,
    RegularLeader = 1,
    RegularNonLeader = 2,
}

/// <summary>The replica's answer to a Hello.</summary>
internal readonly record struct Welcome(byte Version, byte[] ReplicaNonce, int ReplicaId, int LeaderHint);

/// <summary>A replica's status, as <see cref="FrameType.StatusReply"/> carries it.</summary>
internal readonly record struct WireStatus(int ReplicaId, int LeaderHint, WireReplicaState State);

/// <summary>An error answer.</summary>
internal readonly record struct WireError(WireErrorCode Code, int LeaderHint, string Message);

/// <summary>
/// Encodes and decodes frame bodies. Every Try method checks every field against the body's length and range and
/// returns false, never throws, for a body that does not fit its type exactly: the caller closes the connection.
/// Encoders take whether the connection is authenticated, to leave room for the tag.
/// </summary>
internal static class WireMessages
{
    private const int HelloBytes = 4 + 1 + WireFormat.NonceBytes;
    private const int WelcomeBytes = 1 + WireFormat.NonceBytes + 4 + 4;

    public static byte[] Hello(ReadOnlySpan<byte> clientNonce, bool authenticated)
    {
        var frame = WireFormat.Allocate(FrameType.Hello, 0, HelloBytes, authenticated, out var body);
        BinaryPrimitives.WriteUInt32LittleEndian(body, WireFormat.Magic);
        body[4] = WireFormat.Version;
        clientNonce.CopyTo(body[5..]);
        return frame;
    }

    /// <summary>Reads a Hello body: the client's nonce, when the magic is right. The version is returned for the
    /// caller to refuse with a clear error.</summary>
    public static bool TryReadHello(ReadOnlySpan<byte> body, out byte version, out byte[] clientNonce)
    {
        version = 0;
        clientNonce = [];
        if (body.Length != HelloBytes || BinaryPrimitives.ReadUInt32LittleEndian(body) != WireFormat.Magic)
        {
            return false;
        }

        version = body[4];
        clientNonce = body.Slice(5, WireFormat.NonceBytes).ToArray();
        return true;
    }

    public static byte[] Welcome(ReadOnlySpan<byte> replicaNonce, int replicaId, int leaderHint, bool authenticated)
    {
        var frame = WireFormat.Allocate(FrameType.Welcome, 0, WelcomeBytes, authenticated, out var body);
        body[0] = WireFormat.Version;
        replicaNonce.CopyTo(body[1..]);
        BinaryPrimitives.WriteInt32LittleEndian(body[(1 + WireFormat.NonceBytes)..], replicaId);
        BinaryPrimitives.WriteInt32LittleEndian(body[(5 + WireFormat.NonceBytes)..], leaderHint);
        return frame;
    }

    public static bool TryReadWelcome(ReadOnlySpan<byte> body, out Welcome welcome)
    {
        welcome = default;
        if (body.Length != WelcomeBytes)
        {
            return false;
        }

        welcome = new Welcome(
            body[0],
            body.Slice(1, WireFormat.NonceBytes).ToArray(),
            BinaryPrimitives.ReadInt32LittleEndian(body[(1 + WireFormat.NonceBytes)..]),
            BinaryPrimitives.ReadInt32LittleEndian(body[(5 + WireFormat.NonceBytes)..]));
        return true;
    }

    public static byte[] OpenSession(ulong requestId, long registrationNonce, bool authenticated)
    {
        var frame = WireFormat.Allocate(FrameType.OpenSession, requestId, 8, authenticated, out var body);
        BinaryPrimitives.WriteInt64LittleEndian(body, registrationNonce);
        return frame;
    }

    public static bool TryReadLong(ReadOnlySpan<byte> body, out long value)
    {
        value = 0;
        if (body.Length != 8)
        {
            return false;
        }

        value = BinaryPrimitives.ReadInt64LittleEndian(body);
        return true;
    }

    public static byte[] SessionOpened(ulong requestId, long sessionId, bool authenticated)
    {
        var frame = WireFormat.Allocate(FrameType.SessionOpened, requestId, 8, authenticated, out var body);
        BinaryPrimitives.WriteInt64LittleEndian(body, sessionId);
        return frame;
    }

    public static byte[] Submit(ulong requestId, long sessionId, long sequence, ReadOnlySpan<byte> payload, bool authenticated)
    {
        var frame = WireFormat.Allocate(FrameType.Submit, requestId, 16 + payload.Length, authenticated, out var body);
        BinaryPrimitives.WriteInt64LittleEndian(body, sessionId);
        BinaryPrimitives.WriteInt64LittleEndian(body[8..], sequence);
        payload.CopyTo(body[16..]);
        return frame;
    }

    public static bool TryReadSubmit(ReadOnlyMemory<byte> body, out long sessionId, out long sequence, out ReadOnlyMemory<byte> payload)
    {
        sessionId = 0;
        sequence = 0;
        payload = default;
        if (body.Length < 16)
        {
            return false;
        }

        sessionId = BinaryPrimitives.ReadInt64LittleEndian(body.Span);
        sequence = BinaryPrimitives.ReadInt64LittleEndian(body.Span[8..]);
        payload = body[16..];
        return true;
    }

    /// <summary>A frame whose body is <paramref name="bytes"/>: Read, Executed, ReadResult, or an empty Status.</summary>
    public static byte[] Bytes(FrameType type, ulong requestId, ReadOnlySpan<byte> bytes, bool authenticated)
    {
        var frame = WireFormat.Allocate(type, requestId, bytes.Length, authenticated, out var body);
        bytes.CopyTo(body);
        return frame;
    }

    public static byte[] StatusReply(ulong requestId, WireStatus status, bool authenticated)
    {
        var frame = WireFormat.Allocate(FrameType.StatusReply, requestId, 9, authenticated, out var body);
        BinaryPrimitives.WriteInt32LittleEndian(body, status.ReplicaId);
        BinaryPrimitives.WriteInt32LittleEndian(body[4..], status.LeaderHint);
        body[8] = (byte)status.State;
        return frame;
    }

    public static bool TryReadStatusReply(ReadOnlySpan<byte> body, out WireStatus status)
    {
        status = default;
        if (body.Length != 9 || !Enum.IsDefined((WireReplicaState)body[8]))
        {
            return false;
        }

        status = new WireStatus(BinaryPrimitives.ReadInt32LittleEndian(body), BinaryPrimitives.ReadInt32LittleEndian(body[4..]), (WireReplicaState)body[8]);
        return true;
    }

    public static byte[] Error(ulong requestId, WireErrorCode code, int leaderHint, string message, bool authenticated)
    {
        var text = Encoding.UTF8.GetBytes(message);
        var length = Math.Min(text.Length, WireFormat.MaxErrorMessageBytes);
        var frame = WireFormat.Allocate(FrameType.Error, requestId, 1 + 4 + 2 + length, authenticated, out var body);
        body[0] = (byte)code;
        BinaryPrimitives.WriteInt32LittleEndian(body[1..], leaderHint);
        BinaryPrimitives.WriteUInt16LittleEndian(body[5..], (ushort)length);
        text.AsSpan(0, length).CopyTo(body[7..]);
        return frame;
    }

    public static bool TryReadError(ReadOnlySpan<byte> body, out WireError error)
    {
        error = default;
        if (body.Length < 7 || !Enum.IsDefined((WireErrorCode)body[0]))
        {
            return false;
        }

        var length = BinaryPrimitives.ReadUInt16LittleEndian(body[5..]);
        if (length > WireFormat.MaxErrorMessageBytes || body.Length != 7 + length)
        {
            return false;
        }

        // A message cut inside a character decodes with a replacement character; that is fine for a message to people.
        error = new WireError((WireErrorCode)body[0], BinaryPrimitives.ReadInt32LittleEndian(body[1..]), Encoding.UTF8.GetString(body.Slice(7, length)));
        return true;
    }
}
