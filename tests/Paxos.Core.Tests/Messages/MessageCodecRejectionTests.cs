using System.Buffers.Binary;
using System.Security.Cryptography;
using Paxos.Diagnostics;
using Paxos.Messages;

namespace Paxos.Tests.Messages;

public class MessageCodecRejectionTests
{
    private const uint ClusterId = 7;
    private const int ClusterSize = MessageSamples.ClusterSize;
    private static readonly byte[] Key = [.. Enumerable.Range(0, 32).Select(i => (byte)(i + 100))];
    private static readonly byte[] OtherKey = [.. Enumerable.Range(0, 32).Select(i => (byte)(i + 101))];

    private static readonly MessageCodec Crc = new(new MessageCodecOptions { ClusterId = ClusterId, ClusterSize = ClusterSize });
    private static readonly MessageCodec Hmac = new(new MessageCodecOptions { ClusterId = ClusterId, ClusterSize = ClusterSize, ClusterKey = Key });

    private static readonly PaxosMessage Sample = new Proposal(new ReplicaId(2), new ViewNumber(3), new SequenceNumber(17),
        [MessageSamples.Update(1, 4, "hello", origin: 2), ClientUpdate.NoOp, MessageSamples.Update(9, 1, "", origin: -1)]);

    [Test]
    public void Every_truncation_of_a_frame_is_truncated([Values] bool authenticated)
    {
        var codec = authenticated ? Hmac : Crc;
        var frame = MessageCodecTests.Encode(codec, Sample);

        for (var length = 0; length < frame.Length; length++)
        {
            codec.TryDecode(frame.AsSpan(0, length), out var message).Should().Be(DecodeStatus.Truncated, $"length {length}");
            message.Should().BeNull();
        }
    }

    [Test]
    public void A_frame_over_max_frame_bytes_is_too_large()
    {
        var frame = new byte[Crc.MaxFrameBytes + 1];
        MessageCodecTests.Encode(Crc, Sample).CopyTo(frame, 0);

        Crc.TryDecode(frame, out _).Should().Be(DecodeStatus.TooLarge);
        Crc.TryDecode(new byte[70_000], out _).Should().Be(DecodeStatus.TooLarge);
    }

    [Test]
    public void A_frame_with_bad_magic_is_refused()
    {
        var frame = SampleFrame();
        frame[1] = (byte)'Q';

        Crc.TryDecode(frame, out _).Should().Be(DecodeStatus.BadMagic);
    }

    [TestCase(0)]
    [TestCase(1)]
    [TestCase(3)]
    [TestCase(255)]
    public void A_frame_of_another_version_is_refused(byte version)
    {
        var frame = SampleFrame();
        frame[2] = version;

        Crc.TryDecode(WithCrc(frame), out _).Should().Be(DecodeStatus.UnsupportedVersion);
    }

    [TestCase(0x02)]
    [TestCase(0x80)]
    [TestCase(0x03)]
    public void A_frame_with_unknown_flags_is_refused(byte flags)
    {
        var frame = SampleFrame();
        frame[3] = flags;

        Crc.TryDecode(WithCrc(frame), out _).Should().Be(DecodeStatus.BadFlags);
    }

    [Test]
    public void An_authenticated_frame_to_a_codec_without_a_key_has_bad_flags()
    {
        Crc.TryDecode(MessageCodecTests.Encode(Hmac, Sample), out _).Should().Be(DecodeStatus.BadFlags);
    }

    [Test]
    public void A_frame_of_another_cluster_is_refused([Values] bool authenticated)
    {
        var other = new MessageCodec(new MessageCodecOptions { ClusterId = ClusterId + 1, ClusterSize = ClusterSize, ClusterKey = authenticated ? Key : default });
        var frame = MessageCodecTests.Encode(other, Sample);

        (authenticated ? Hmac : Crc).TryDecode(frame, out _).Should().Be(DecodeStatus.WrongCluster);
    }

    [TestCase(ClusterSize)]
    [TestCase(63)]
    [TestCase(0xFFFF)]
    public void A_frame_from_an_unknown_sender_is_refused(int sender)
    {
        var frame = SampleFrame();
        BinaryPrimitives.WriteUInt16LittleEndian(frame.AsSpan(10), (ushort)sender);

        Crc.TryDecode(WithCrc(frame), out _).Should().Be(DecodeStatus.UnknownSender);
    }

    [TestCase(0)]
    [TestCase(20)]
    [TestCase(255)]
    public void A_frame_of_an_unknown_type_is_refused(byte type)
    {
        var frame = SampleFrame();
        frame[8] = type;

        Crc.TryDecode(WithCrc(frame), out _).Should().Be(DecodeStatus.UnknownType);
    }

    [Test]
    public void A_version_1_frame_is_refused_as_an_unsupported_version()
    {
        // Version 1 had a reserved zero where version 2 has the cluster size: an old replica's frame is not
        // mistaken for one of this cluster.
        var frame = SampleFrame();
        frame[2] = 1;
        frame[9] = 0;

        Crc.TryDecode(WithCrc(frame), out var message).Should().Be(DecodeStatus.UnsupportedVersion);
        message.Should().BeNull();
    }

    [Test]
    public void Every_frame_carries_the_cluster_size()
    {
        SampleFrame()[9].Should().Be(ClusterSize);
        MessageCodecTests.Encode(Hmac, Sample)[9].Should().Be(ClusterSize);
    }

    [TestCase(1)]
    [TestCase(3)]
    [TestCase(64)]
    public void A_frame_from_a_replica_configured_with_another_cluster_size_is_refused(int otherSize)
    {
        foreach (var authenticated in new[] { false, true })
        {
            var other = new MessageCodec(new MessageCodecOptions { ClusterId = ClusterId, ClusterSize = otherSize, ClusterKey = authenticated ? Key : default });
            var frame = MessageCodecTests.Encode(other, new Alive(new ReplicaId(0), new SequenceNumber(1), new ViewNumber(1)));

            (authenticated ? Hmac : Crc).TryDecode(frame, out var message).Should().Be(DecodeStatus.WrongConfiguration, $"authenticated: {authenticated}");
            message.Should().BeNull();
        }
    }

    [TestCase(0)]
    [TestCase(4)]
    [TestCase(255)]
    public void A_frame_whose_cluster_size_byte_differs_is_refused_as_another_configuration(byte size)
    {
        var frame = SampleFrame();
        frame[9] = size;

        Crc.TryDecode(WithCrc(frame), out _).Should().Be(DecodeStatus.WrongConfiguration);
    }

    [Test]
    public void The_cluster_id_is_checked_before_the_cluster_size()
    {
        var other = new MessageCodec(new MessageCodecOptions { ClusterId = ClusterId + 1, ClusterSize = 3 });

        Crc.TryDecode(MessageCodecTests.Encode(other, new Alive(new ReplicaId(0), new SequenceNumber(1), new ViewNumber(1))), out _)
            .Should().Be(DecodeStatus.WrongCluster);
    }

    [TestCase(1, DecodeStatus.Truncated)]
    [TestCase(1000, DecodeStatus.Truncated)]
    [TestCase(-1, DecodeStatus.Malformed)]
    [TestCase(-40, DecodeStatus.Malformed)]
    public void A_declared_length_that_differs_from_the_frame_is_refused(long change, DecodeStatus expected)
    {
        var frame = SampleFrame();
        var declared = BinaryPrimitives.ReadUInt32LittleEndian(frame.AsSpan(12));
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(12), (uint)(declared + change));

        Crc.TryDecode(WithCrc(frame), out _).Should().Be(expected);
    }

    [Test]
    public void The_largest_declared_length_is_truncated_not_overflowed()
    {
        var frame = SampleFrame();
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(12), uint.MaxValue);

        Crc.TryDecode(WithCrc(frame), out _).Should().Be(DecodeStatus.Truncated);
    }

    [Test]
    public void Bytes_after_the_trailer_make_the_frame_malformed()
    {
        var frame = SampleFrame();

        Crc.TryDecode([.. frame, 0], out _).Should().Be(DecodeStatus.Malformed);
    }

    [Test]
    public void Every_single_bit_flip_is_detected()
    {
        var frame = SampleFrame();
        for (var bit = 0; bit < frame.Length * 8; bit++)
        {
            var flipped = frame.ToArray();
            flipped[bit / 8] ^= (byte)(1 << (bit % 8));

            var status = Crc.TryDecode(flipped, out var message);

            // A flip in the header's magic, version, flags or length is caught before the CRC; any other
            // is caught by it (CRC-32C detects every single-bit error).
            var expected = (bit / 8) switch
            {
                0 or 1 => DecodeStatus.BadMagic,
                2 => DecodeStatus.UnsupportedVersion,
                3 => DecodeStatus.BadFlags,
                >= 12 and < 16 => (frame[bit / 8] & (1 << (bit % 8))) == 0 ? DecodeStatus.Truncated : DecodeStatus.Malformed,
                _ => DecodeStatus.BadChecksum,
            };
            status.Should().Be(expected, $"bit {bit}");
            message.Should().BeNull();
        }
    }

    [Test]
    public void A_flipped_bit_under_the_mac_is_a_bad_mac()
    {
        var frame = MessageCodecTests.Encode(Hmac, Sample);
        for (var offset = 4; offset < frame.Length; offset++)
        {
            if (offset is >= 12 and < 16)
            {
                continue;
            }

            var flipped = frame.ToArray();
            flipped[offset] ^= 0x10;

            Hmac.TryDecode(flipped, out _).Should().Be(DecodeStatus.BadMac, $"offset {offset}");
        }
    }

    [Test]
    public void A_crc_frame_to_a_codec_with_a_key_is_unauthenticated()
    {
        Hmac.TryDecode(SampleFrame(), out var message).Should().Be(DecodeStatus.Unauthenticated);
        message.Should().BeNull();
    }

    [Test]
    public void A_frame_made_with_another_key_is_a_bad_mac()
    {
        var other = new MessageCodec(new MessageCodecOptions { ClusterId = ClusterId, ClusterSize = ClusterSize, ClusterKey = OtherKey });

        Hmac.TryDecode(MessageCodecTests.Encode(other, Sample), out _).Should().Be(DecodeStatus.BadMac);
    }

    [Test]
    public void A_forged_mac_over_a_valid_crc_layout_is_a_bad_mac()
    {
        // An attacker who knows the format but not the key: a well-formed body, the flag set, random trailer.
        var frame = MessageCodecTests.Encode(Hmac, Sample);
        new TestRandom(5).Fill(frame.AsSpan(frame.Length - 32));

        Hmac.TryDecode(frame, out _).Should().Be(DecodeStatus.BadMac);
    }

    // ---- Bodies that are intact (CRC recomputed) but inconsistent. ----

    private static IEnumerable<TestCaseData> ForgedCounts()
    {
        foreach (var count in new[] { 0x7FFFFFFFu, 0xFFFFFFFFu, 0x80000000u, 1000u })
        {
            yield return Case("Proposal", Body.Int64(3).Int64(17).UInt32(count).Update(1, 1, 2, "abc"), count);
            yield return Case("GloballyOrderedUpdate", Body.Int64(17).UInt32(count).Update(1, 1, 2, "abc"), count);
            yield return Case("ClientUpdateForward", Body.UInt32(count).Update(1, 1, 2, "abc"), count);
            yield return Case("PrepareOk", Body.Int64(3).Int32(0).Int32(1).UInt32(count).Int64(5).Int64(2).UInt8(0).Update(1, 1, 2, "abc"), count);
        }

        static TestCaseData Case(string type, Body body, uint count) =>
            new TestCaseData(Enum.Parse<MessageType>(type), body.ToArray()).SetName($"A forged count of {count:X} in {type} is malformed and allocates little");
    }

    [TestCaseSource(nameof(ForgedCounts))]
    public void A_forged_count_is_malformed_without_allocating(MessageType type, byte[] body)
    {
        var frame = FrameWithBody(type, body);
        Crc.TryDecode(frame, out _).Should().Be(DecodeStatus.Malformed);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var status = Crc.TryDecode(frame, out var message);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        status.Should().Be(DecodeStatus.Malformed);
        message.Should().BeNull();
        allocated.Should().BeLessThan(4096);
    }

    [Test]
    public void A_forged_payload_length_is_malformed_without_allocating()
    {
        var body = Body.UInt32(1).Int64(1).Int64(1).Int32(0).UInt32(0x7FFFFFFF).Bytes("abc").ToArray();
        var frame = FrameWithBody(MessageType.ClientUpdateForward, body);
        Crc.TryDecode(frame, out _);

        var before = GC.GetAllocatedBytesForCurrentThread();
        Crc.TryDecode(frame, out _).Should().Be(DecodeStatus.Malformed);
        (GC.GetAllocatedBytesForCurrentThread() - before).Should().BeLessThan(4096);
    }

    private static IEnumerable<TestCaseData> TrailingGarbage()
    {
        foreach (var (name, message) in MessageSamples.EdgeCases(1400))
        {
            if (message.Sender.Value < ClusterSize && !name.Contains("max payload", StringComparison.Ordinal))
            {
                yield return new TestCaseData(message).SetName($"Trailing garbage after {name} is malformed");
            }
        }
    }

    [TestCaseSource(nameof(TrailingGarbage))]
    public void Trailing_garbage_after_the_body_is_malformed(PaxosMessage message)
    {
        var frame = MessageCodecTests.Encode(Crc, message);
        var body = frame.AsSpan(16, frame.Length - 20).ToArray();

        foreach (var extra in new[] { 1, 3, 8, 24, 41 })
        {
            Crc.TryDecode(FrameWithBody(message.Type, [.. body, .. new byte[extra]], message.Sender.Value), out _)
                .Should().Be(DecodeStatus.Malformed, $"{extra} extra bytes");
        }
    }

    private static IEnumerable<TestCaseData> MalformedBodies()
    {
        yield return Case(MessageType.ViewChange, Body.Int64(-1), "a negative view");
        yield return Case(MessageType.ViewChange, Body.Int32(1), "a short field");
        yield return Case(MessageType.ViewChange, Body, "an empty body");
        yield return Case(MessageType.Prepare, Body.Int64(1).Int64(long.MinValue), "a negative aru");
        yield return Case(MessageType.Accept, Body.Int64(1).Int64(2), "a missing last slot");
        yield return Case(MessageType.Accept, Body.Int64(1).Int64(2).Int64(-3), "a negative last slot");
        yield return Case(MessageType.Alive, Body.Int64(-5).Int64(2), "a negative aru in Alive");
        yield return Case(MessageType.CatchUpRequest, Body.Int64(1).Int64(-2), "a negative to");
        yield return Case(MessageType.Proposal, Body.Int64(-1).Int64(1).UInt32(1).Update(1, 1, 0, "a"), "a Proposal of a negative view");
        yield return Case(MessageType.Proposal, Body.Int64(1).Int64(1).UInt32(0), "a Proposal without updates");
        yield return Case(MessageType.ClientUpdateForward, Body.UInt32(0), "a forward without updates");
        yield return Case(MessageType.ClientUpdateForward, Body.UInt32(2).Update(1, 1, 0, "a"), "a count above the updates present");
        yield return Case(MessageType.ClientUpdateForward, Body.UInt32(1).Update(0, 1, -1, ""), "a no-op with a timestamp");
        yield return Case(MessageType.ClientUpdateForward, Body.UInt32(1).Update(0, 0, -1, "x"), "a no-op with a payload");
        yield return Case(MessageType.ClientUpdateForward, Body.UInt32(1).Update(0, 0, 1, ""), "a no-op with an origin");
        yield return Case(MessageType.ClientUpdateForward, Body.UInt32(1).Update(-4, 1, 0, "a"), "a negative client id");
        yield return Case(MessageType.ClientUpdateForward, Body.UInt32(1).Update(4, 0, 0, "a"), "a zero timestamp");
        yield return Case(MessageType.ClientUpdateForward, Body.UInt32(1).Update(4, -9, 0, "a"), "a negative timestamp");
        yield return Case(MessageType.ClientUpdateForward, Body.UInt32(1).Update(4, 1, ClusterSize, "a"), "an origin of N");
        yield return Case(MessageType.ClientUpdateForward, Body.UInt32(1).Update(4, 1, -2, "a"), "an origin below none");
        yield return Case(MessageType.ClientUpdateForward, Body.UInt32(1).Int64(1).Int64(1).Int32(0).UInt32(4).Bytes("abc"), "a payload length past the body");
        yield return Case(MessageType.ClientUpdateForward, Body.UInt32(1).Int64(1).Int64(1).Int32(0), "a cut update");
        yield return Case(MessageType.GloballyOrderedUpdate, Body.Int64(-1).UInt32(0), "a negative first slot");
        yield return Case(MessageType.GloballyOrderedUpdate, Body.Int64(1), "a missing count");
        yield return Case(MessageType.PrepareOk, Body.Int64(1).Int32(0).Int32(1).UInt32(1).Int64(5).Int64(2).UInt8(2).Update(1, 1, 0, "a"), "an entry kind of 2");
        yield return Case(MessageType.PrepareOk, Body.Int64(1).Int32(0).Int32(1).UInt32(1).Int64(-5).Int64(2).UInt8(0).Update(1, 1, 0, "a"), "an entry of a negative slot");
        yield return Case(MessageType.PrepareOk, Body.Int64(1).Int32(0).Int32(1).UInt32(1).Int64(5).Int64(-2).UInt8(1).Update(1, 1, 0, "a"), "an entry of a negative view");
        yield return Case(MessageType.PrepareOk, Body.Int64(1).Int32(1).Int32(1).UInt32(0), "a part equal to the part count");
        yield return Case(MessageType.PrepareOk, Body.Int64(1).Int32(-1).Int32(1).UInt32(0), "a negative part");
        yield return Case(MessageType.PrepareOk, Body.Int64(1).Int32(0).Int32(0).UInt32(0), "a part count of 0");
        yield return Case(MessageType.PrepareOk, Body.Int64(-1).Int32(0).Int32(1).UInt32(0), "a PrepareOk of a negative view");

        static TestCaseData Case(MessageType type, Body body, string what) =>
            new TestCaseData(type, body.ToArray()).SetName($"A {type} body with {what} is malformed");
    }

    [TestCaseSource(nameof(MalformedBodies))]
    public void An_inconsistent_body_is_malformed(MessageType type, byte[] body)
    {
        Crc.TryDecode(FrameWithBody(type, body), out var message).Should().Be(DecodeStatus.Malformed);
        message.Should().BeNull();
    }

    [Test]
    public void A_hand_built_body_that_is_consistent_decodes()
    {
        // The builder above writes the real layout: the same bytes with sane values decode.
        var body = Body.Int64(1).Int32(0).Int32(1).UInt8(0).UInt32(2)
            .Int64(5).Int64(0).UInt8(1).Update(0, 0, -1, "")
            .Int64(6).Int64(2).UInt8(0).Update(4, 1, 3, "abc").ToArray();

        Crc.TryDecode(FrameWithBody(MessageType.PrepareOk, body), out var message).Should().Be(DecodeStatus.Ok);

        message!.ToString().Should().Be("PrepareOk v=1 part=1/1 entries=2");
        var entries = ((PrepareOk)message).Entries;
        entries[0].IsOrdered.Should().BeTrue();
        entries[0].Update.Should().BeSameAs(ClientUpdate.NoOp);
        entries[1].Update.ToString().Should().Be("c4#1");
        entries[1].Update.Origin.Should().Be(new ReplicaId(3));
    }

    private static Body Body => new();

    private static byte[] SampleFrame() => MessageCodecTests.Encode(Crc, Sample);

    /// <summary>Recomputes the CRC trailer, so only the deliberate change is wrong.</summary>
    internal static byte[] WithCrc(byte[] frame)
    {
        var covered = frame.Length - MessageCodec.ChecksumTrailerBytes;
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(covered), Crc32C.Compute(frame.AsSpan(0, covered)));
        return frame;
    }

    /// <summary>An intact CRC frame of this cluster around <paramref name="body"/>.</summary>
    internal static byte[] FrameWithBody(MessageType type, byte[] body, int sender = 1)
    {
        var frame = new byte[MessageCodec.HeaderBytes + body.Length + MessageCodec.ChecksumTrailerBytes];
        BinaryPrimitives.WriteUInt16LittleEndian(frame, 0x5850);
        frame[2] = 2;
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(4), ClusterId);
        frame[8] = (byte)type;
        frame[9] = ClusterSize;
        BinaryPrimitives.WriteUInt16LittleEndian(frame.AsSpan(10), (ushort)sender);
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(12), (uint)body.Length);
        body.CopyTo(frame, MessageCodec.HeaderBytes);
        return WithCrc(frame);
    }

    /// <summary>An authenticated frame, MAC recomputed over whatever the bytes are now.</summary>
    internal static byte[] WithMac(byte[] frame, byte[] key)
    {
        var covered = frame.Length - MessageCodec.MacTrailerBytes;
        HMACSHA256.HashData(key, frame.AsSpan(0, covered), frame.AsSpan(covered));
        return frame;
    }
}

/// <summary>Writes a body by hand, field by field, in the wire layout.</summary>
internal sealed class Body
{
    private readonly List<byte> _bytes = [];

    public Body Int64(long value)
    {
        Span<byte> field = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(field, value);
        _bytes.AddRange(field);
        return this;
    }

    public Body Int32(int value)
    {
        Span<byte> field = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(field, value);
        _bytes.AddRange(field);
        return this;
    }

    public Body UInt32(uint value)
    {
        Span<byte> field = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(field, value);
        _bytes.AddRange(field);
        return this;
    }

    public Body UInt8(byte value)
    {
        _bytes.Add(value);
        return this;
    }

    public Body Bytes(string text)
    {
        _bytes.AddRange(System.Text.Encoding.UTF8.GetBytes(text));
        return this;
    }

    public Body Update(long client, long timestamp, int origin, string payload) =>
        Int64(client).Int64(timestamp).Int32(origin).UInt32((uint)System.Text.Encoding.UTF8.GetByteCount(payload)).Bytes(payload);

    public byte[] ToArray() => [.. _bytes];
}
