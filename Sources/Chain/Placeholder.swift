enum ChainPlaceholder {}
