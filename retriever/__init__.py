"""retriever: lexical + dense search, fusion, and extractive answers with verified citations."""
