/// The EIP-1767 schema with the fields geth serves today (same types, field names,
/// arguments and nullability, so geth clients work unchanged), plus InfraStack's read
/// extensions, each marked "Extension" in its description: cursor pagination, filtered
/// transactions and range aggregates. Descriptions are our own words.
enum EthereumSDL {
    static let text = #"""
    "A 32-byte value (hash, storage slot or word) as 0x-prefixed hexadecimal."
    scalar Bytes32
    "A 20-byte account address as 0x-prefixed hexadecimal. Output is lower case."
    scalar Address
    "Bytes of any length as 0x-prefixed hexadecimal with two digits per byte; no bytes is \"0x\"."
    scalar Bytes
    "An unsigned integer of up to 256 bits. Input: a JSON number, or a string in decimal or 0x-prefixed hexadecimal. Output: 0x-prefixed hexadecimal."
    scalar BigInt
    "A 64-bit unsigned integer. Input: a number, or a string in decimal or 0x-prefixed hexadecimal. Output: a JSON number."
    scalar Long

    schema {
      query: Query
      mutation: Mutation
    }

    "An account's state as of a particular block."
    type Account {
      "The account's address."
      address: Address!
      "The balance in wei."
      balance: BigInt!
      "The nonce: transactions sent by an externally owned account, or contracts created by a contract."
      transactionCount: Long!
      "The contract code; empty for accounts without code."
      code: Bytes!
      "The value stored in the given 32-byte storage slot."
      storage(slot: Bytes32!): Bytes32!
    }

    "An event log emitted by a contract."
    type Log {
      "The log's index within its block."
      index: Long!
      "The contract that emitted the log, as of `block` (default: the log's block)."
      account(block: Long): Account!
      "The indexed topics, zero to four."
      topics: [Bytes32!]!
      "The non-indexed data."
      data: Bytes!
      "The transaction that emitted the log."
      transaction: Transaction!
    }

    "An EIP-2930 access list entry."
    type AccessTuple {
      address: Address!
      storageKeys: [Bytes32!]!
    }

    "An EIP-4895 validator withdrawal."
    type Withdrawal {
      "The withdrawal's index, increasing across the chain."
      index: Long!
      "The index of the validator whose balance is withdrawn."
      validator: Long!
      "The address credited."
      address: Address!
      "The amount in Gwei."
      amount: Long!
    }

    "A transaction included in a block (or, under `pending`, waiting for one)."
    type Transaction {
      hash: Bytes32!
      "The sender's nonce for this transaction."
      nonce: Long!
      "The position within the block; null while pending."
      index: Long
      "The sender, as of `block` (default: this transaction's block)."
      from(block: Long): Account!
      "The recipient, as of `block`; null for contract creation."
      to(block: Long): Account
      "Wei transferred."
      value: BigInt!
      "The gas price paid per unit (the effective price once included)."
      gasPrice: BigInt!
      "EIP-1559 fee cap; null for earlier transaction types."
      maxFeePerGas: BigInt
      "EIP-1559 priority fee cap; null for earlier transaction types."
      maxPriorityFeePerGas: BigInt
      "EIP-4844 blob fee cap; null for non-blob transactions."
      maxFeePerBlobGas: BigInt
      "The tip per gas paid to the block producer (effective price minus base fee)."
      effectiveTip: BigInt
      "The gas limit."
      gas: Long!
      "The call data."
      inputData: Bytes!
      "The containing block; null while pending."
      block: Block
      "1 on success, 0 on failure; null while pending."
      status: Long
      "Gas used by this transaction; null while pending."
      gasUsed: Long
      "Gas used in the block up to and including this transaction; null while pending."
      cumulativeGasUsed: Long
      "The price per gas actually paid; null while pending."
      effectiveGasPrice: BigInt
      "Blob gas used (EIP-4844); null for non-blob transactions."
      blobGasUsed: Long
      "Blob gas price paid (EIP-4844); null for non-blob transactions."
      blobGasPrice: BigInt
      "The contract created, as of `block`; null unless this is a contract creation."
      createdContract(block: Long): Account
      "Logs emitted; null while pending."
      logs: [Log!]
      r: BigInt!
      s: BigInt!
      v: BigInt!
      "The signature's y parity (typed transactions)."
      yParity: BigInt
      "The EIP-2718 transaction type."
      type: Long
      "The EIP-2930 access list; null for legacy transactions."
      accessList: [AccessTuple!]
      "The canonical encoding (EIP-2718 envelope)."
      raw: Bytes!
      "The canonical encoding of the receipt."
      rawReceipt: Bytes!
      "Versioned hashes of the blobs (EIP-4844)."
      blobVersionedHashes: [Bytes32!]
    }

    "Log filter for a single block."
    input BlockFilterCriteria {
      "Match logs from any of these contracts; omitted or empty matches all."
      addresses: [Address!]
      "Per topic position, the topics that match there (any of); an empty list matches anything. [[A], [], [C, D]]: A first, anything second, C or D third."
      topics: [[Bytes32!]!]
    }

    "A block of the chain."
    type Block {
      number: Long!
      hash: Bytes32!
      "The parent block; null for the first indexed block."
      parent: Block
      nonce: Bytes!
      transactionsRoot: Bytes32!
      transactionCount: Long
      stateRoot: Bytes32!
      receiptsRoot: Bytes32!
      "The fee recipient, as of `block` (default: this block)."
      miner(block: Long): Account!
      extraData: Bytes!
      gasLimit: Long!
      gasUsed: Long!
      "EIP-1559 base fee; null before London."
      baseFeePerGas: BigInt
      "The base fee of the next block (its stored value, or the EIP-1559 formula)."
      nextBaseFeePerGas: BigInt
      timestamp: Long!
      logsBloom: Bytes!
      mixHash: Bytes32!
      difficulty: BigInt!
      "Total difficulty up to this block, where the upstream reported it."
      totalDifficulty: BigInt!
      ommerCount: Long
      "Ommer (uncle) blocks. Their headers are not indexed, so this errors when there are any."
      ommers: [Block]
      ommerAt(index: Long!): Block
      ommerHash: Bytes32!
      transactions: [Transaction!]
      transactionAt(index: Long!): Transaction
      "Logs of this block matching the filter."
      logs(filter: BlockFilterCriteria!): [Log!]!
      "An account as of this block."
      account(address: Address!): Account!
      "Executes a call against this block's state (forwarded to the upstream node)."
      call(data: CallData!): CallResult
      "Estimates the gas of a transaction against this block's state (forwarded to the upstream node)."
      estimateGas(data: CallData!): Long!
      "The RLP-encoded header."
      rawHeader: Bytes!
      "The RLP-encoded block."
      raw: Bytes!
      withdrawalsRoot: Bytes32
      withdrawals: [Withdrawal!]
      blobGasUsed: Long
      excessBlobGas: Long
      "Extension: the transactions of this block sent from and/or to the given addresses (both given: both must match)."
      transactionsWhere(from: Address, to: Address): [Transaction!]!
    }

    "A call or transaction to simulate. Every field is optional."
    input CallData {
      from: Address
      to: Address
      gas: Long
      gasPrice: BigInt
      maxFeePerGas: BigInt
      maxPriorityFeePerGas: BigInt
      value: BigInt
      data: Bytes
    }

    "The outcome of a simulated call."
    type CallResult {
      "The returned data."
      data: Bytes!
      "Gas the call used."
      gasUsed: Long!
      "1 on success, 0 on revert."
      status: Long!
    }

    "Log filter over a block range."
    input FilterCriteria {
      "First block, inclusive; default: the latest block."
      fromBlock: Long
      "Last block, inclusive; default: the latest block."
      toBlock: Long
      "Match logs from any of these contracts; omitted or empty matches all."
      addresses: [Address!]
      "Per topic position, the topics that match there (any of); an empty list matches anything."
      topics: [[Bytes32!]!]
    }

    "How far this node's index is behind the upstream chain."
    type SyncState {
      "The first indexed block."
      startingBlock: Long!
      "The latest indexed block."
      currentBlock: Long!
      "The upstream's latest block."
      highestBlock: Long!
    }

    "The upstream node's pending state (forwarded)."
    type Pending {
      transactionCount: Long!
      transactions: [Transaction!]
      account(address: Address!): Account!
      call(data: CallData!): CallResult
      estimateGas(data: CallData!): Long!
    }

    "Extension: one page of a block listing."
    type BlockConnection {
      edges: [BlockEdge!]!
      nodes: [Block!]!
      pageInfo: PageInfo!
    }

    "Extension: a block with the cursor that resumes after it."
    type BlockEdge {
      cursor: String!
      node: Block!
    }

    "Extension: one page of a log listing."
    type LogConnection {
      edges: [LogEdge!]!
      nodes: [Log!]!
      pageInfo: PageInfo!
    }

    "Extension: a log with the cursor that resumes after it."
    type LogEdge {
      cursor: String!
      node: Log!
    }

    "Extension: where a page ends and whether more follow."
    type PageInfo {
      "Whether items follow this page."
      hasNextPage: Boolean!
      "The cursor of the page's last item; pass it as `after` for the next page. Null for an empty page."
      endCursor: String
    }

    "Extension: totals over a block range."
    type BlockStats {
      "Blocks in the range that are indexed."
      blockCount: Long!
      transactionCount: Long!
      "Sum of the blocks' gasUsed."
      gasUsed: BigInt!
      logCount: Long!
    }

    type Query {
      "A block by number or by hash (not both); the latest block when neither is given."
      block(number: Long, hash: Bytes32): Block
      "The indexed blocks from `from` (default: the first indexed) to `to` (default: the latest), inclusive."
      blocks(from: Long, to: Long): [Block!]!
      "The upstream node's pending state."
      pending: Pending!
      "A transaction by hash."
      transaction(hash: Bytes32!): Transaction
      "Logs matching the filter."
      logs(filter: FilterCriteria!): [Log!]!
      "A gas price likely to get a transaction included soon (from the upstream node)."
      gasPrice: BigInt!
      "A priority fee likely to get a transaction included soon (from the upstream node)."
      maxPriorityFeePerGas: BigInt!
      "Null when the index has caught up with the upstream (or the upstream is not reachable from here)."
      syncing: SyncState
      "The chain id."
      chainID: BigInt!
      "Extension: indexed blocks in ascending order, `first` per page (default 20), after the block whose cursor is `after`."
      blocksPage(first: Int = 20, after: String): BlockConnection!
      "Extension: logs matching the filter in (block, index) order, `first` per page (default 100), after the log whose cursor is `after`."
      logsPage(filter: FilterCriteria!, first: Int = 100, after: String): LogConnection!
      "Extension: totals over the indexed blocks from `from` to `to`, inclusive."
      blockStats(from: Long!, to: Long!): BlockStats!
    }

    type Mutation {
      "Submits a signed, encoded transaction to the upstream node; returns its hash."
      sendRawTransaction(data: Bytes!): Bytes32!
    }
    """#
}
