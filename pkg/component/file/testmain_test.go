package file

import "github.com/apache/arrow-go/v18/arrow/memory"

var memoryAlloc = memory.DefaultAllocator
