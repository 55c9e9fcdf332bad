using System.Runtime.InteropServices;
using Paxos.Diagnostics;
using Paxos.Messages;

namespace Paxos.Tests.Messages;

public class MessageCodecTests
{
    private const int MaxMessageBytes = 1400;
    private static readonly byte[] Key = [.. Enumerable.Range(1, 32).Select(i => (byte)(i * 7))];

    private static MessageCodec Codec(bool authenticated, uint clusterId = 7, int clusterSize = MessageSamples.ClusterSize, int maxMessageBytes = MaxMessageBytes) =>
        new(new MessageCodecOptions
        {
            ClusterId = clusterId,
            ClusterSize = clusterSize,
            ClusterKey = authenticated ? Key : ReadOnlyMemory<byte>.Empty,
            MaxMessageBytes = maxMessageBytes,
        });

    private static IEnumerable<TestCaseData> EdgeCases()
    {
        foreach (var authenticated in new[] { false, true })
        {
            foreach (var (name, message) in MessageSamples.EdgeCases(MaxMessageBytes))
            {
                yield return new TestCaseData(message, authenticated).SetName($"Round trip ({(authenticated ? "HMAC" : "CRC")}): {name}");
            }
        }
    }

    [TestCaseSource(nameof(EdgeCases))]
    public void Every_message_survives_a_round_trip(PaxosMessage message, bool authenticated)
    {
        var codec = Codec(authenticated);
        var frame = new byte[codec.GetEncodedLength(message)];

        var written = codec.Encode(message, frame);

        written.Should().Be(frame.Length);
        codec.TryDecode(frame, out var decoded).Should().Be(DecodeStatus.Ok);
        MessageText.ShouldMatch(decoded!, message);

        // The encoding is canonical: the decoded message encodes to the same bytes.
        var again = new byte[frame.Length];
        codec.Encode(decoded!, again);
        again.Should().Equal(frame);
    }

    [Test]
    public void The_largest_body_fits_max_frame_bytes_exactly()
    {
        foreach (var (name, message) in MessageSamples.EdgeCases(MaxMessageBytes).Where(sample => sample.Name.Contains("max payload", StringComparison.Ordinal)))
        {
            foreach (var authenticated in new[] { false, true })
            {
                var codec = Codec(authenticated);
                codec.GetEncodedLength(message).Should().Be(codec.MaxFrameBytes, name);
            }
        }
    }

    [TestCase(512)]
    [TestCase(65_000)]
    public void A_payload_filling_the_largest_body_round_trips(int maxMessageBytes)
    {
        var codec = Codec(authenticated: false, maxMessageBytes: maxMessageBytes);
        var payload = new byte[maxMessageBytes - 4 - MessageSizes.UpdateOverheadBytes];
        new TestRandom(3).Fill(payload);
        var message = new ClientUpdateForward(new ReplicaId(1), [new ClientUpdate(new ClientId(9), 3, payload, new ReplicaId(1), validate: false)]);
        var frame = new byte[codec.MaxFrameBytes];

        codec.Encode(message, frame).Should().Be(codec.MaxFrameBytes);

        codec.TryDecode(frame, out var decoded).Should().Be(DecodeStatus.Ok);
        MessageText.ShouldMatch(decoded!, message);
    }

    [Test]
    public void Ids_0_and_N_minus_1_round_trip_for_the_smallest_and_largest_clusters()
    {
        foreach (var size in new[] { 1, 2, 64 })
        {
            var codec = Codec(authenticated: false, clusterSize: size);
            foreach (var id in new[] { 0, size - 1 })
            {
                var message = new ClientUpdateForward(new ReplicaId(id), [MessageSamples.Update(1, 1, "x", origin: id)]);
                var frame = Encode(codec, message);
                codec.TryDecode(frame, out var decoded).Should().Be(DecodeStatus.Ok);
                MessageText.ShouldMatch(decoded!, message);
            }
        }
    }

    [Test]
    public void A_noop_decodes_to_the_singleton()
    {
        var codec = Codec(authenticated: false);
        var frame = Encode(codec, new GloballyOrderedUpdate(new ReplicaId(1), new SequenceNumber(3), [ClientUpdate.NoOp, MessageSamples.Update(1, 1), ClientUpdate.NoOp]));

        codec.TryDecode(frame, out var decoded).Should().Be(DecodeStatus.Ok);

        var updates = ((GloballyOrderedUpdate)decoded!).Updates;
        updates[0].Should().BeSameAs(ClientUpdate.NoOp);
        updates[2].Should().BeSameAs(ClientUpdate.NoOp);
        updates[1].IsNoOp.Should().BeFalse();
    }

    [Test]
    public void Payloads_share_one_array_that_is_not_the_frame()
    {
        var codec = Codec(authenticated: false);
        var message = new Proposal(new ReplicaId(2), new ViewNumber(2), new SequenceNumber(1),
            [MessageSamples.Update(1, 1, "first"), MessageSamples.Update(2, 1, ""), MessageSamples.Update(3, 1, "third")]);
        var frame = Encode(codec, message);

        codec.TryDecode(frame, out var decoded).Should().Be(DecodeStatus.Ok);
        Array.Clear(frame);

        var updates = ((Proposal)decoded!).Updates;
        MemoryMarshal.TryGetArray(updates[0].Payload, out var first).Should().BeTrue();
        MemoryMarshal.TryGetArray(updates[2].Payload, out var third).Should().BeTrue();
        third.Array.Should().BeSameAs(first.Array);
        first.Array!.Length.Should().Be("first".Length + "third".Length);
        MessageText.ShouldMatch(decoded!, message);
    }

    [Test]
    public void The_wire_format_is_pinned()
    {
        var codec = Codec(authenticated: false, clusterId: 0x01020304);
        var message = new Proposal(new ReplicaId(2), new ViewNumber(3), new SequenceNumber(17), [MessageSamples.Update(1, 4, "hi", origin: 1)]);

        var frame = Encode(codec, message);

        Convert.ToHexString(frame.AsSpan(0, frame.Length - 4)).Should().Be(
            "5058" + "02" + "00" + "04030201" + "06" + "05" + "0200" + "2F000000"
            + "0300000000000000" + "1100000000000000" + "01" + "01000000"
            + "0100000000000000" + "0400000000000000" + "01000000" + "02000000" + "6869");
        BitConverter.ToUInt32(frame, frame.Length - 4).Should().Be(Crc32C.Compute(frame.AsSpan(0, frame.Length - 4)));
    }

    [Test]
    public void An_authenticated_frame_sets_the_flag_and_ends_with_the_hmac()
    {
        var codec = Codec(authenticated: true);
        var frame = Encode(codec, new Alive(new ReplicaId(1), new SequenceNumber(5), new ViewNumber(2)));

        frame[3].Should().Be(1);
        frame.Length.Should().Be(MessageCodec.HeaderBytes + 16 + MessageCodec.MacTrailerBytes);
        var mac = System.Security.Cryptography.HMACSHA256.HashData(Key, frame.AsSpan(0, frame.Length - 32));
        frame.AsSpan(frame.Length - 32).ToArray().Should().Equal(mac);
    }

    [Test]
    public void The_body_never_exceeds_the_MessageSizes_bound()
    {
        var random = new TestRandom(11);
        var codec = Codec(authenticated: false, maxMessageBytes: 65_000);
        for (var i = 0; i < 5000; i++)
        {
            var message = MessageSamples.Random(random, MessageSamples.ClusterSize, 1400);
            var body = codec.GetEncodedLength(message) - MessageCodec.HeaderBytes - codec.TrailerBytes;

            body.Should().BeLessThanOrEqualTo(SizeBound(message), message.ToString());
        }
    }

    [Test]
    public void Encoding_allocates_nothing()
    {
        foreach (var authenticated in new[] { false, true })
        {
            var codec = Codec(authenticated);
            var message = MessageSamples.EdgeCases(MaxMessageBytes).First(sample => sample.Name == "PrepareOk mixed").Message;
            var frame = new byte[codec.MaxFrameBytes];
            codec.Encode(message, frame);

            var before = GC.GetAllocatedBytesForCurrentThread();
            codec.Encode(message, frame);
            codec.GetEncodedLength(message);
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

            allocated.Should().Be(0, authenticated ? "HMAC mode" : "CRC mode");
        }
    }

    [Test]
    public void Encoding_into_a_too_small_span_throws()
    {
        var codec = Codec(authenticated: false);
        var message = new Accept(new ReplicaId(1), new ViewNumber(1), new SequenceNumber(1), new SequenceNumber(2));
        var frame = new byte[codec.GetEncodedLength(message) - 1];

        var act = () => codec.Encode(message, frame);

        act.Should().Throw<ArgumentException>().Which.ParamName.Should().Be("destination");
    }

    [Test]
    public void Encoding_a_body_over_MaxMessageBytes_throws()
    {
        var codec = Codec(authenticated: false);
        var message = new ClientUpdateForward(new ReplicaId(1), [MessageSamples.Update(1, 1, new string('x', MaxMessageBytes - 4 - MessageSizes.UpdateOverheadBytes + 1))]);
        var frame = new byte[codec.GetEncodedLength(message)];

        var act = () => codec.Encode(message, frame);

        act.Should().Throw<ArgumentException>().WithMessage("*MaxMessageBytes*");
    }

    private static IEnumerable<TestCaseData> UnencodableMessages()
    {
        yield return new TestCaseData(new ViewChange(new ReplicaId(MessageSamples.ClusterSize), new ViewNumber(1))).SetName("Encode refuses a sender of N");
        yield return new TestCaseData(new ViewChange(new ReplicaId(-1), new ViewNumber(1))).SetName("Encode refuses a sender of -1");
        yield return new TestCaseData(new Prepare(new ReplicaId(1), new ViewNumber(-1), SequenceNumber.None)).SetName("Encode refuses a negative view");
        yield return new TestCaseData(new Accept(new ReplicaId(1), new ViewNumber(1), new SequenceNumber(1), new SequenceNumber(-2))).SetName("Encode refuses a negative slot");
        yield return new TestCaseData(new Proposal(new ReplicaId(1), new ViewNumber(1), new SequenceNumber(1), [])).SetName("Encode refuses an empty Proposal");
        yield return new TestCaseData(new ClientUpdateForward(new ReplicaId(1), [])).SetName("Encode refuses an empty forward");
        yield return new TestCaseData(new ClientUpdateForward(new ReplicaId(1), [MessageSamples.Update(1, 0)])).SetName("Encode refuses a zero timestamp");
        yield return new TestCaseData(new ClientUpdateForward(new ReplicaId(1), [MessageSamples.Update(1, 1, origin: MessageSamples.ClusterSize)])).SetName("Encode refuses an origin of N");
        yield return new TestCaseData(new ClientUpdateForward(new ReplicaId(1), [MessageSamples.Update(0, 0, "x")])).SetName("Encode refuses a no-op with a payload");
        yield return new TestCaseData(new PrepareOk(new ReplicaId(1), new ViewNumber(1), 1, 1, [])).SetName("Encode refuses a part outside its part count");
    }

    [TestCaseSource(nameof(UnencodableMessages))]
    public void Encoding_a_message_the_decoder_would_refuse_throws(PaxosMessage message)
    {
        var codec = Codec(authenticated: false);

        var act = () => codec.Encode(message, new byte[codec.MaxFrameBytes]);

        act.Should().Throw<ArgumentException>().Which.ParamName.Should().Be("message");
    }

    [TestCase(nameof(MessageCodecOptions.ClusterSize), 0)]
    [TestCase(nameof(MessageCodecOptions.ClusterSize), 65)]
    [TestCase(nameof(MessageCodecOptions.MaxMessageBytes), 511)]
    [TestCase(nameof(MessageCodecOptions.MaxMessageBytes), 65_001)]
    [TestCase(nameof(MessageCodecOptions.ClusterKey), 15)]
    public void An_out_of_range_option_fails_with_a_message_naming_it(string option, int value)
    {
        var options = new MessageCodecOptions();
        if (option == nameof(MessageCodecOptions.ClusterKey))
        {
            options.ClusterKey = new byte[value];
        }
        else
        {
            typeof(MessageCodecOptions).GetProperty(option)!.SetValue(options, value);
        }

        var act = () => new MessageCodec(options);

        act.Should().Throw<ArgumentException>().Which.Message.Should().Contain(option).And.Contain(value.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Test]
    public void The_sizes_follow_the_options()
    {
        var crc = Codec(authenticated: false);
        var hmac = Codec(authenticated: true);

        crc.IsAuthenticated.Should().BeFalse();
        crc.TrailerBytes.Should().Be(MessageCodec.ChecksumTrailerBytes);
        crc.MaxFrameBytes.Should().Be(MessageCodec.HeaderBytes + MaxMessageBytes + 4);
        hmac.IsAuthenticated.Should().BeTrue();
        hmac.TrailerBytes.Should().Be(MessageCodec.MacTrailerBytes);
        hmac.MaxFrameBytes.Should().Be(MessageCodec.HeaderBytes + MaxMessageBytes + 32);
        hmac.MaxMessageBytes.Should().Be(MaxMessageBytes);
    }

    [Test]
    public void The_codec_copies_the_key()
    {
        var key = Key.ToArray();
        var codec = new MessageCodec(new MessageCodecOptions { ClusterKey = key, ClusterSize = MessageSamples.ClusterSize });
        var frame = Encode(codec, new VcProof(new ReplicaId(0), new ViewNumber(1)));

        Array.Clear(key);

        codec.TryDecode(frame, out _).Should().Be(DecodeStatus.Ok);
    }

    internal static byte[] Encode(MessageCodec codec, PaxosMessage message)
    {
        var frame = new byte[codec.GetEncodedLength(message)];
        codec.Encode(message, frame);
        return frame;
    }

    /// <summary>What <see cref="MessageSizes"/> promises a message's body stays within.</summary>
    private static int SizeBound(PaxosMessage message) => MessageSizes.HeaderBytes + message switch
    {
        Proposal m => m.Updates.Sum(MessageSizes.Update),
        GloballyOrderedUpdate m => m.Updates.Sum(MessageSizes.Update),
        ClientUpdateForward m => m.Updates.Sum(MessageSizes.Update),
        PrepareOk m => m.Entries.Sum(entry => MessageSizes.Entry(entry)),
        SnapshotChunk m => MessageSizes.SnapshotChunkOverheadBytes - MessageSizes.HeaderBytes + m.Data.Length,
        _ => 0,
    };
}
