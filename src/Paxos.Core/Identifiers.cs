using System.Globalization;

namespace Paxos;

/// <summary>
/// The id of one replication server (PfSB's <c>My_Server_Id</c>). Ids run from 0 to N−1, and the
/// leader of view <c>v</c> is the replica whose id is <c>v mod N</c>.
/// </summary>
/// <param name="Value">The id, from 0 to the cluster size minus one.</param>
public readonly record struct ReplicaId(int Value) : IComparable<ReplicaId>
{
    /// <summary>The largest cluster, 64: the protocol keeps its vote and accept sets in 64-bit masks, and the wire
    /// format, the log and every transport check ids against it. Stated here, with the id, so that every layer
    /// can name it.</summary>
    public const int MaxClusterSize = 64;

    /// <summary>Marks "no replica", for example an update whose origin is not yet known.</summary>
    public static ReplicaId None => new(-1);

    /// <summary>Whether this is <see cref="None"/>.</summary>
    public bool IsNone => Value < 0;

    /// <inheritdoc />
    public int CompareTo(ReplicaId other) => Value.CompareTo(other.Value);

    /// <summary>Compares two ids.</summary>
    public static bool operator <(ReplicaId left, ReplicaId right) => left.Value < right.Value;

    /// <summary>Compares two ids.</summary>
    public static bool operator >(ReplicaId left, ReplicaId right) => left.Value > right.Value;

    /// <summary>Compares two ids.</summary>
    public static bool operator <=(ReplicaId left, ReplicaId right) => left.Value <= right.Value;

    /// <summary>Compares two ids.</summary>
    public static bool operator >=(ReplicaId left, ReplicaId right) => left.Value >= right.Value;

    /// <inheritdoc />
    public override string ToString() => Value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// A view number: the name of one leader's reign. Views start at 1; 0 means "none"
/// (for example <c>Last_Installed = 0</c> before any view was installed).
/// </summary>
/// <param name="Value">The view number, 0 or more.</param>
public readonly record struct ViewNumber(long Value) : IComparable<ViewNumber>
{
    /// <summary>View 0: no view.</summary>
    public static ViewNumber None => default;

    /// <summary>The view after this one.</summary>
    public ViewNumber Next => new(Value + 1);

    /// <inheritdoc />
    public int CompareTo(ViewNumber other) => Value.CompareTo(other.Value);

    /// <summary>Compares two views.</summary>
    public static bool operator <(ViewNumber left, ViewNumber right) => left.Value < right.Value;

    /// <summary>Compares two views.</summary>
    public static bool operator >(ViewNumber left, ViewNumber right) => left.Value > right.Value;

    /// <summary>Compares two views.</summary>
    public static bool operator <=(ViewNumber left, ViewNumber right) => left.Value <= right.Value;

    /// <summary>Compares two views.</summary>
    public static bool operator >=(ViewNumber left, ViewNumber right) => left.Value >= right.Value;

    /// <inheritdoc />
    public override string ToString() => Value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// A global sequence number: a slot of <c>Global_History</c>. Sequence numbers start at 1;
/// 0 means "none" (for example <c>Local_Aru = 0</c> when nothing has been executed).
/// </summary>
/// <param name="Value">The sequence number, 0 or more.</param>
public readonly record struct SequenceNumber(long Value) : IComparable<SequenceNumber>
{
    /// <summary>Sequence number 0: no slot.</summary>
    public static SequenceNumber None => default;

    /// <summary>The sequence number after this one.</summary>
    public SequenceNumber Next => new(Value + 1);

    /// <inheritdoc />
    public int CompareTo(SequenceNumber other) => Value.CompareTo(other.Value);

    /// <summary>Compares two sequence numbers.</summary>
    public static bool operator <(SequenceNumber left, SequenceNumber right) => left.Value < right.Value;

    /// <summary>Compares two sequence numbers.</summary>
    public static bool operator >(SequenceNumber left, SequenceNumber right) => left.Value > right.Value;

    /// <summary>Compares two sequence numbers.</summary>
    public static bool operator <=(SequenceNumber left, SequenceNumber right) => left.Value <= right.Value;

    /// <summary>Compares two sequence numbers.</summary>
    public static bool operator >=(SequenceNumber left, SequenceNumber right) => left.Value >= right.Value;

    /// <inheritdoc />
    public override string ToString() => Value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// The id of a client. Together with the client's timestamp it names one update for ever:
/// (client id, timestamp) is how duplicates are recognised. Client ids are positive;
/// <see cref="None"/> (0) is reserved for the protocol's own no-op updates.
/// </summary>
/// <param name="Value">The id; positive for real clients.</param>
public readonly record struct ClientId(long Value) : IComparable<ClientId>
{
    /// <summary>The reserved id of the protocol's no-op updates.</summary>
    public static ClientId None => default;

    /// <inheritdoc />
    public int CompareTo(ClientId other) => Value.CompareTo(other.Value);

    /// <summary>Compares two ids.</summary>
    public static bool operator <(ClientId left, ClientId right) => left.Value < right.Value;

    /// <summary>Compares two ids.</summary>
    public static bool operator >(ClientId left, ClientId right) => left.Value > right.Value;

    /// <summary>Compares two ids.</summary>
    public static bool operator <=(ClientId left, ClientId right) => left.Value <= right.Value;

    /// <summary>Compares two ids.</summary>
    public static bool operator >=(ClientId left, ClientId right) => left.Value >= right.Value;

    /// <inheritdoc />
    public override string ToString() => Value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// Names one linearizable read at the replica that serves it. The host picks the ids; they must be unique among the
/// reads a replica has pending (a counter is enough).
/// </summary>
/// <param name="Value">The id.</param>
public readonly record struct ReadRequestId(long Value)
{
    /// <inheritdoc />
    public override string ToString() => Value.ToString(CultureInfo.InvariantCulture);
}
