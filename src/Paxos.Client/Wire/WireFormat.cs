using System.Buffers.Binary;

namespace Paxos.Client.Wire;

/// <summary>
/// The frame layout: a 4-byte little-endian length of what follows, then the type (u8), the request id (u64) that
/// the answer repeats, the body, and — when the cluster has a key — a 16-byte HMAC-SHA256 tag over everything
/// before it (<see cref="FrameAuthenticator"/>). All integers are little-endian.
/// </summary>
internal static class WireFormat
{
    /// <summary>"PXCL" read as a little-endian u32: the first four bytes of a <see cref="FrameType.Hello"/> body.</summary>
    public const uint Magic = 0x4C435850;

    /// <summary>The wire's version; a peer with another version is refused.</summary>
    public const byte Version = 1;

    public const int LengthBytes = 4;

    /// <summary>Type and request id.</summary>
    public const int HeaderBytes = 1 + 8;

    public const int NonceBytes = 16;

    /// <summary>The truncated HMAC-SHA256 tag.</summary>
    public const int TagBytes = 16;

    /// <summary>The smallest bound on a frame that options may set: room for every fixed-size frame and an error.</summary>
    public const int MinMaxFrameBytes = 1024;

    /// <summary>The largest bound on a frame that options may set, 64 MiB.</summary>
    public const int MaxMaxFrameBytes = 64 * 1024 * 1024;

    /// <summary>The default bound on a frame after its length prefix, 1 MiB.</summary>
    public const int DefaultMaxFrameBytes = 1024 * 1024;

    /// <summary>The longest error message a frame carries, in UTF-8 bytes; longer ones are cut.</summary>
    public const int MaxErrorMessageBytes = 512;

    /// <summary>The length of a frame's content (after the length prefix) with <paramref name="bodyLength"/> bytes of body.</summary>
    public static int ContentLength(int bodyLength, bool authenticated) => HeaderBytes + bodyLength + (authenticated ? TagBytes : 0);

    /// <summary>A whole frame (length prefix included) with room for the body and, if <paramref name="authenticated"/>,
    /// the tag, which <see cref="FrameAuthenticator.Seal"/> fills in.</summary>
    public static byte[] Allocate(FrameType type, ulong requestId, int bodyLength, bool authenticated, out Span<byte> body)
    {
        var content = ContentLength(bodyLength, authenticated);
        var frame = new byte[LengthBytes + content];
        BinaryPrimitives.WriteInt32LittleEndian(frame, content);
        frame[LengthBytes] = (byte)type;
        BinaryPrimitives.WriteUInt64LittleEndian(frame.AsSpan(LengthBytes + 1), requestId);
        body = frame.AsSpan(LengthBytes + HeaderBytes, bodyLength);
        return frame;
    }

    /// <summary>Whether a length prefix is acceptable: room for the header (and tag), at most <paramref name="maxFrameBytes"/>.</summary>
    public static bool IsValidLength(int length, bool authenticated, int maxFrameBytes) =>
        length >= ContentLength(0, authenticated) && length <= maxFrameBytes;

    /// <summary>Splits a frame's content (after the length prefix, tag already checked and removed) into its header
    /// and body; false for an unknown type.</summary>
    public static bool TryParseHeader(ReadOnlyMemory<byte> content, out FrameType type, out ulong requestId, out ReadOnlyMemory<byte> body)
    {
        type = default;
        requestId = 0;
        body = default;
        if (content.Length < HeaderBytes || !Enum.IsDefined((FrameType)content.Span[0]))
        {
            return false;
        }

        type = (FrameType)content.Span[0];
        requestId = BinaryPrimitives.ReadUInt64LittleEndian(content.Span[1..]);
        body = content[HeaderBytes..];
        return true;
    }

    /// <summary>Whether the type is one a client sends.</summary>
    public static bool IsRequest(FrameType type) => (byte)type < 0x80;
}
