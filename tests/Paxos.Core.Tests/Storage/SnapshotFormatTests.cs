using System.Buffers.Binary;
using Paxos.Diagnostics;
using Paxos.Protocol;
using Paxos.Storage;
using static Paxos.Tests.Storage.SnapshotTestSupport;

namespace Paxos.Tests.Storage;

/// <summary>The snapshot file format: a streamed round trip, and every damage refused.</summary>
public class SnapshotFormatTests
{
    [Test]
    public void A_multi_megabyte_executor_state_round_trips_streamed_and_never_sought()
    {
        const long executorBytes = 6L << 20;
        var capture = new PatternSnapshot(executorBytes);
        var destination = new ForwardOnlyStream();

        SnapshotFormat.Write(destination, new TakenSnapshot(State(1234, clients: 5), capture, batchNumber: 7));

        capture.SawSeekableDestination.Should().BeFalse("the executor is handed a forward-only stream");
        capture.Writes.Should().BeGreaterThan(100, "the state was written in many chunks, not one buffer");
        capture.Disposed.Should().BeFalse("the caller disposes the capture");
        var bytes = destination.Inner.ToArray();
        var stored = ReadBytes(bytes);
        Describe(stored.State).Should().Be(Describe(State(1234, clients: 5)));
        using var state = stored.OpenExecutorState();
        state.CanWrite.Should().BeFalse();
        PatternSnapshot.ReadAndCheck(state, executorBytes).Should().Be(executorBytes);
        state.Read(new byte[10], 0, 10).Should().Be(0, "the stream ends exactly where the executor's bytes end");
    }

    [Test]
    public void An_empty_executor_state_and_client_table_round_trip()
    {
        var bytes = Bytes(new TakenSnapshot(new SnapshotState { Sequence = new SequenceNumber(0), ClusterSize = 1 }, new PatternSnapshot(0), 1));

        bytes.Should().HaveCount(SnapshotFormat.HeaderBytes + SnapshotFormat.TrailerBytes);
        var stored = ReadBytes(bytes);
        stored.State.Clients.Should().BeEmpty();
        using var state = stored.OpenExecutorState();
        PatternSnapshot.ReadAndCheck(state, 0);
    }

    [Test]
    public void Every_truncation_and_every_single_bit_flip_of_a_small_snapshot_is_refused()
    {
        var bytes = Bytes(Taken(sequence: 9, batch: 1, executorBytes: 40, clients: 3));
        ReadBytes(bytes).State.Sequence.Value.Should().Be(9, "the intact file reads");

        var accepted = new List<string>();
        for (var length = 0; length < bytes.Length; length++)
        {
            Check(bytes[..length], $"truncated to {length}");
        }

        Check([.. bytes, 0], "one byte longer");
        for (var offset = 0; offset < bytes.Length; offset++)
        {
            for (var bit = 0; bit < 8; bit++)
            {
                var damaged = (byte[])bytes.Clone();
                damaged[offset] ^= (byte)(1 << bit);
                Check(damaged, $"bit {bit} of byte {offset} flipped");
            }
        }

        accepted.Should().BeEmpty();

        void Check(byte[] candidate, string what)
        {
            try
            {
                ReadBytes(candidate);
                accepted.Add(what);
            }
            catch (InvalidDataException)
            {
            }
        }
    }

    [Test]
    public void A_newer_format_version_is_refused_naming_it()
    {
        var bytes = Bytes(Taken(5, 1));
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(4), 3);

        var act = () => ReadBytes(bytes);

        act.Should().Throw<InvalidDataException>().WithMessage("*format version 3, newer than this version of Paxos.Core reads (up to 2)*");
    }

    [Test]
    public void Lengths_out_of_bounds_are_refused_before_anything_is_allocated_even_with_a_valid_checksum()
    {
        var bytes = Bytes(Taken(5, 1, clients: 1));
        var clientCount = (byte[])bytes.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(clientCount.AsSpan(20), uint.MaxValue);
        var resultLength = (byte[])bytes.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(resultLength.AsSpan(SnapshotFormat.HeaderBytes + 24), int.MaxValue);

        FluentActions.Invoking(() => ReadBytes(Reseal(clientCount))).Should().Throw<InvalidDataException>().WithMessage("*counts 4294967295 clients*");
        FluentActions.Invoking(() => ReadBytes(Reseal(resultLength))).Should().Throw<InvalidDataException>().WithMessage("*client table row 0*out of bounds*");
    }

    [Test]
    public void An_executor_state_damaged_after_it_was_verified_is_refused_at_its_end()
    {
        var bytes = Bytes(Taken(5, 1, executorBytes: 100_000));
        var stored = ReadBytes(bytes);
        bytes[bytes.Length - 5_000] ^= 1; // The stored snapshot reopens the same array.

        using var state = stored.OpenExecutorState();
        var act = () => state.CopyTo(Stream.Null);

        act.Should().Throw<InvalidDataException>().WithMessage("*changed since it was verified*");
    }

    [Test]
    public void A_state_the_format_cannot_hold_is_refused_before_a_byte_is_written()
    {
        var unordered = new SnapshotState
        {
            Sequence = new SequenceNumber(5),
            ClusterSize = 3,
            Clients = [new ClientTableEntry(new ClientId(2), 1, new SequenceNumber(1), default), new ClientTableEntry(new ClientId(1), 1, new SequenceNumber(1), default)],
        };
        var destination = new ForwardOnlyStream();

        var act = () => SnapshotFormat.Write(destination, new TakenSnapshot(unordered, new PatternSnapshot(10), 1));

        act.Should().Throw<ArgumentException>().WithMessage("*ascending order*");
        destination.Inner.Length.Should().Be(0);
    }

    /// <summary>Recomputes the checksum of a file changed on purpose, so only the bounds checks can refuse it.</summary>
    private static byte[] Reseal(byte[] bytes)
    {
        var crcAt = bytes.Length - 4;
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(crcAt), Crc32C.Compute(bytes.AsSpan(0, crcAt)));
        return bytes;
    }
}
