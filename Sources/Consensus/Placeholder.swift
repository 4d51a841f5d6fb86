enum ConsensusPlaceholder {}
